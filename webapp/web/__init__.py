"""What the JSON API and the admin pages share inside the Flask app.

The error envelope and its one handler, request ids, admin access, CSRF and security headers,
the JSON provider, request schemas and the accessors of the long-lived objects (model service,
prediction log). Imports neither `webapp.api` nor `webapp.admin`.
"""
