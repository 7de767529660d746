def notice_figures(*, crisis_id: int) -> dict:
    """Totals for a crisis: {total, queued, sent, failed, acknowledged, by_channel: {...},
    by_department: {...}}. (Contract stub, filled in by issue 4.)"""
    return {
        "total": 0,
        "queued": 0,
        "sent": 0,
        "failed": 0,
        "acknowledged": 0,
        "by_channel": {},
        "by_department": {},
    }
