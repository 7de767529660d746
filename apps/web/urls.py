from django.urls import include, path

from . import views
from .auth_views import LoginView, LogoutView

web_patterns = [
    path("", views.home, name="home"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:notice_id>/acknowledge/", views.inbox_acknowledge, name="inbox-ack"),
    path("inbox/posts/<int:post_id>/published/", views.todo_mark_published, name="todo-published"),
    path("control/", views.control_room, name="control"),
    path("control/declare/", views.control_declare, name="declare"),
    path("control/crises/<int:crisis_id>/extend/", views.control_extend, name="extend"),
    path("control/crises/<int:crisis_id>/review/", views.control_review, name="review"),
    path("control/crises/<int:crisis_id>/decisions/", views.control_decisions, name="decisions"),
    path(
        "control/crises/<int:crisis_id>/decisions/matching/",
        views.control_decide_matching,
        name="decide-matching",
    ),
    path("control/crises/<int:crisis_id>/lift/", views.control_lift, name="lift"),
    path("control/crises/<int:crisis_id>/stand-down/", views.control_stand_down, name="stand-down"),
    path("control/crises/<int:crisis_id>/approve-lift/", views.control_approve_lift, name="approve-lift"),
    path("control/crises/<int:crisis_id>/figures/", views.control_figures, name="figures"),
    path("control/crises/<int:crisis_id>/report/", views.control_report, name="report"),
    path(
        "control/crises/<int:crisis_id>/not-acknowledged/",
        views.not_acknowledged,
        name="not-acknowledged",
    ),
    path(
        "control/crises/<int:crisis_id>/not-acknowledged.csv",
        views.not_acknowledged_csv,
        name="not-acknowledged-csv",
    ),
    path("control/crises/<int:crisis_id>/remind/", views.remind_now, name="remind-now"),
    path(
        "control/crises/<int:crisis_id>/posts/<int:post_id>/retract/", views.control_retract, name="retract"
    ),
    path("calendar/", views.calendar_week, name="calendar"),
    path("calendar/posts/new/", views.calendar_post_new, name="post-new"),
    path("calendar/posts/<int:post_id>/", views.calendar_post_edit, name="post-edit"),
    path(
        "calendar/posts/<int:post_id>/require-approval/",
        views.post_require_approval,
        name="post-require-approval",
    ),
    path("approvals/", views.approvals, name="approvals"),
    path("approvals/<int:approval_id>/decide/", views.approval_decide, name="approval-decide"),
    path("approvals/<int:approval_id>/release/", views.approval_release, name="approval-release"),
    path("audit/", views.audit_trail, name="audit"),
    path("mandates/", views.mandates, name="mandates"),
    path("mandates/<int:mandate_id>/revoke/", views.mandate_revoke, name="mandate-revoke"),
    path("statements/", views.statement_list, name="statements"),
    path("statements/new/", views.statement_new, name="statement-new"),
    path("statements/<int:statement_id>/", views.statement_detail, name="statement"),
    path("statements/<int:statement_id>/revise/", views.statement_revise, name="statement-revise"),
    path("statements/<int:statement_id>/submit/", views.statement_submit, name="statement-submit"),
    path("statements/<int:statement_id>/decide/", views.statement_decide, name="statement-decide"),
    path("statements/<int:statement_id>/publish/", views.statement_publish, name="statement-publish"),
    path("statements/<int:statement_id>/withdraw/", views.statement_withdraw, name="statement-withdraw"),
    # statements helper: each account's post of a statement being published
    path(
        "statements/<int:statement_id>/posts/<int:post_id>/mark-published/",
        views.statement_post_mark_published,
        name="statement-post-mark-published",
    ),
    path(
        "statements/<int:statement_id>/posts/<int:post_id>/retry/",
        views.statement_post_retry,
        name="statement-post-retry",
    ),
    path(
        "statements/<int:statement_id>/posts/<int:post_id>/by-hand/",
        views.statement_post_by_hand,
        name="statement-post-by-hand",
    ),
]

urlpatterns = [
    # Django's auth views under their usual names, outside the namespace: LOGIN_URL = "login".
    # `/` itself shows the same login form to anonymous visitors (see views.home).
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("", include((web_patterns, "web"))),
]
