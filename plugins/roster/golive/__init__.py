"""Taking a district live and keeping it live: cross-match discovery, clean-up against the vendor's
roster, the announcement, and where every district stands (status, watchdog)."""
