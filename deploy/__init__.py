"""Deployment of the service as a Hugging Face Docker Space: one public port, four processes."""
