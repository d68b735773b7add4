"""Development tools, not part of the product package or the image: the loopback SFTP and SMTP
servers of the tests, demo and e2e, and the sample export generator."""
