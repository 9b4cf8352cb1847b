def test_healthz_answers_on_the_embedded_default(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured"},
        "database": "ok",
        "queue": "inline",
    }


def test_a_city_member_proposes_and_submits(make):
    city = make.city()
    member = make.as_role("city_member", city=city)
    r = member.post(
        "/grants",
        {
            "title": "Harbour stories",
            "summary": "Stories",
            "start_date": city.titles[0].valid_from.isoformat(),
            "end_date": city.titles[0].valid_until.isoformat(),
            "budget_lines": [
                {"category": "fees", "description": "Storytellers", "amount": "1500.00"},
                {"category": "venue", "description": "Warehouse", "amount": "800.50"},
            ],
        },
    )
    assert r.status_code == 201, r.get_json()
    grant = r.get_json()
    assert grant["requested_amount"] == "2300.50"
    assert grant["state"] == "draft"
    assert grant["available_events"] == ["submit", "withdraw"]
    r = member.fire(grant["id"], "submit")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["state"] == "submitted"
