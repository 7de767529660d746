import hmac
from dataclasses import dataclass

from .models import AuditChainHead, AuditEntry
from .services import GENESIS_HASH, audit_keys, entry_hash


@dataclass
class ChainReport:
    valid: bool
    entries: int
    first_broken: int | None

    def as_dict(self):
        return {"valid": self.valid, "entries": self.entries, "first_broken": self.first_broken}


def audit_chain_verify() -> ChainReport:
    """Walk the chain in order; name the first entry whose link or content does not hold.

    A missing entry shows as a sequence gap; an edited one as a hash mismatch (the hash is an
    HMAC whose key is not in the database, so rewriting the hash too does not help); an entry
    sealed with a key we do not hold is broken too; an entry removed from the end shows against
    the chain head."""
    keys = audit_keys()
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    for e in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        checked += 1
        key = keys.get(e.key_id)
        if key is None:
            return ChainReport(False, checked, min(e.sequence, expected_seq))
        recomputed = entry_hash(key=key, entry=e)
        if (
            e.sequence != expected_seq
            or e.prev_hash != prev_hash
            or not hmac.compare_digest(e.hash, recomputed)
        ):
            return ChainReport(False, checked, min(e.sequence, expected_seq))
        prev_hash, expected_seq = e.hash, e.sequence + 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head and (head.sequence != expected_seq - 1 or head.hash != prev_hash):
        return ChainReport(False, checked, expected_seq)
    return ChainReport(True, checked, None)
