"""The admin's browser pages: log in and out, the prediction log page (summary, charts, export,
clear) and the drift monitoring page. Server-rendered HTML from `templates/`."""
