"""Hot read queries compiled to SQL once per process, then run with new parameters.

Compiling a select_related query (the token with its user, the gate with its crisis) cost more
CPU than anything else in `GET /api/v1/gate/` (issue 13). The SQL and the way Django's own
RelatedPopulator builds objects from a row are taken from the compiler once; each call is then a
cursor execute (so query capture, execute wrappers and the backend's checks still apply) and
`Model.from_db`. Columns that need a converter are not handled here: such a query is not
precompiled and runs through the ORM.
"""

from django.db import connections


class Precompiled:
    """`Precompiled(lambda key: Model.objects.filter(...).select_related(...), "sample")`; then
    `.fetch(key)` → the model instances, related objects cached as select_related would."""

    def __init__(self, make_queryset, *sample_params):
        self.make_queryset = make_queryset
        self.sample_params = sample_params
        self._plan = None

    def _compile(self):
        queryset = self.make_queryset(*self.sample_params)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        if list(params) != list(self.sample_params):
            return False  # parameters not one-for-one with ours: not precompilable
        if compiler.get_converters([col for col, _sql, _alias in compiler.select]):
            return False

        def node(klass_info):
            idx = klass_info["select_fields"]
            names = [compiler.select[i][0].target.attname for i in idx]
            children = [node(child) for child in klass_info.get("related_klass_infos", [])]
            setters = (klass_info.get("local_setter"), klass_info.get("remote_setter"))
            model = klass_info["model"]
            return model, idx, names, names.index(model._meta.pk.attname), children, setters

        return queryset.db, sql, node(compiler.klass_info)

    def fetch(self, *params) -> list:
        if self._plan is None:
            self._plan = self._compile()
        if self._plan is False:
            return list(self.make_queryset(*params))
        db, sql, root = self._plan
        connection = connections[db]
        # Server-side binding where the backend offers it (crisiscomm.db_backends.postgresql).
        make_cursor = getattr(connection, "server_binding_cursor", connection.cursor)
        with make_cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [_build(db, root, row) for row in rows]


def _build(db, node, row):
    model, idx, names, pk_at, children, _setters = node
    values = [row[i] for i in idx]
    if values[pk_at] is None:
        return None  # an outer join that found nothing
    obj = model.from_db(db, names, values)
    for child in children:
        related = _build(db, child, row)
        local_setter, remote_setter = child[5]
        local_setter(obj, related)
        if related is not None:
            remote_setter(related, obj)
    return obj
