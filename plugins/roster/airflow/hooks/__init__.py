"""Delivery over the providers' hooks: SFTP (the roster, the export) and SMTP (the emails)."""
