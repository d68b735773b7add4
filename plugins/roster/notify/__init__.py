"""The emails a night sends (QA failure, hold, on-call, watchdog), rendered from Jinja templates."""
