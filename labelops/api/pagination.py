"""Keyset pagination for every list endpoint.

Cursor pagination orders by an indexed, unique column and carries the last
seen value in an opaque cursor, so page 10,000 costs the same as page 1 (an
OFFSET scan would not) and rows inserted meanwhile never shift a page.
"""

from rest_framework.pagination import CursorPagination


class KeysetPagination(CursorPagination):
    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 1000
