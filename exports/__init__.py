"""Financial statements for auditors: XLSX workbooks built by background jobs."""
