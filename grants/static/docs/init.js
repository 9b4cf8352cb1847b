// Starts the interactive API reference; a static file so that no inline script is needed.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    // No badge from validator.swagger.io: the reference works offline and sends nothing out.
    validatorUrl: null,
  });
});
