"""Domain errors of the refund store and policy; views and actions turn them into words."""

from __future__ import annotations


class RefundError(Exception):
    """Base class: ``code`` is stable for callers, the message is for logs and operators."""

    code = "refund_error"

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.params = params


class OrderNotFound(RefundError):
    """No such order for this customer (an order of another customer is reported the same)."""

    code = "order_not_found"


class ApplicationNotFound(RefundError):
    """No such application for this customer."""

    code = "application_not_found"


class MethodNotOffered(RefundError):
    """The order's state does not allow the chosen method."""

    code = "method_not_offered"


class AmountError(RefundError):
    """The amount cannot be refunded; ``code`` says why."""

    def __init__(self, code: str, message: str, **params: str) -> None:
        super().__init__(message, **params)
        self.code = code


class ReasonError(RefundError):
    """The reason is missing or too thin for the method."""

    def __init__(self, code: str, message: str, **params: str) -> None:
        super().__init__(message, **params)
        self.code = code


class TransitionNotAllowed(RefundError):
    """The application's state does not allow this change."""

    code = "transition_not_allowed"


class ImportRowError(RefundError):
    """One row of an order import is malformed."""

    code = "import_row_invalid"
