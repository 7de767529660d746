"""The shared CSV reader (apps.core.csv_import): rows carry the file's own line numbers, so that
every bad line an import names is the line a person opens in their editor."""

from apps.core.csv_import import read_csv


def test_rows_are_numbered_with_their_first_line_past_quoted_line_breaks_and_a_bom():
    """Mutation: the `embedded` step-back removed from read_csv -> the row after a quoted line
    break is numbered one line too far -> this test fails."""
    text = '\ufeffEmail;Name\na@x.fr;"Marie\nCurie"\nb@x.fr;Paul\n'
    columns, rows = read_csv(text.splitlines(keepends=True))
    assert columns == ["email", "name"]
    assert [(r.line, r.values["Email"]) for r in rows] == [(2, "a@x.fr"), (4, "b@x.fr")]


def test_the_delimiter_is_the_headers_most_frequent_separator():
    columns, _rows = read_csv(["email,name;x\n", "a@x.fr,Marie;1\n"])
    assert columns == ["email", "name;x"]
