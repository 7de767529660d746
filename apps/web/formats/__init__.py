"""Date formats for both languages (settings.FORMAT_MODULE_PATH), read by every `|date` and
`date_format()` call, pages, messages and e-mails alike: a 24-hour clock with the zone's name, so an
English time never ends in "a.m." (no doubled full stop at a sentence's end) and a reader sees which
clock the time is on. Times are shown in the service's zone (settings.TIME_ZONE)."""
