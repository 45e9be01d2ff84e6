"""User-facing errors: each carries one clear message; front ends print it without a traceback."""


class SingauditError(Exception):
    """Base of every error a user can cause and fix (bad spec, missing weights, bad data)."""

    exit_code = 4


class SpecError(SingauditError):
    """A malformed or invalid audit spec."""


class WeightsNotFound(SingauditError):
    """Weights that cannot be found locally or fetched; the message says how to supply them."""


class UnsupportedModel(SingauditError):
    """A model whose head cannot be read as one linear layer (and why)."""


class MissingDependency(SingauditError):
    """An optional dependency that a feature needs is not installed."""


class DataError(SingauditError):
    """Unusable data: an empty folder, an unknown class, a malformed list file."""


class NotApplicable(Exception):
    """A check or computation that does not apply (e.g. null_dim == 0); never a pass."""


class ClusterUnavailable(SingauditError):
    """The execution engine's cluster cannot be reached (a wrong address, no cluster there)."""


class ClusterLost(SingauditError):
    """The cluster went away mid-run; finished work is cached and a re-run resumes (exit 2, as an
    interruption)."""

    exit_code = 2
