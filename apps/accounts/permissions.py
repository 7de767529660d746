"""DRF permission classes: they live in apps.core.permissions (below every app); re-exported
here for the callers that import them from accounts."""

from apps.core.permissions import DCOWritesOthersRead, IsDCO, role_permission

__all__ = ["DCOWritesOthersRead", "IsDCO", "role_permission"]
