"""Files in and out: the SIS export read as text, the vendor's roster file, run artifacts, and the
store that says where a night's files live under ``ROSTER_DATA_ROOT``."""
