"""The one base class of the errors a user can cause, and can fix.

Every such error says, in one line, what was wrong and what to do (diffusers' philosophy: errors that teach).
`svd-learn generate` and `svd-learn batch` catch `UserError` once and print its message, never a traceback;
anything else is a bug of the course or a library, and keeps its traceback.
"""


class UserError(Exception):
    """A mistake in what was asked (a bad image, parameter, output, model, plan...) or a situation the user can
    change (no network, out of GPU memory with every plan). The message says what to do."""
