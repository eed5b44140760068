"""One settings object: how every estimate of a run is computed, shown and drawn.

A :class:`Settings` is built once from the parameters (``params.settings``, ``cohort.settings``)
and passed down as ``settings=`` instead of the same keywords at every call, as tern passes one
validated control object (``control_surv_time()``) rather than loose arguments.

The functions of :mod:`ensemble_helpers.tables` and :mod:`ensemble_helpers.plots` keep their
explicit keywords (``conf_level=``, ``min_cell_size=`` ...) for use on their own; decorated with
:func:`takes_settings`, they also take ``settings=``, which fills each of those keywords the
caller did not give. A keyword given explicitly wins over the settings.

Examples
--------
>>> s = Settings(conf_level=0.9, min_cell_size=10)
>>> s.conf_level, s.ci_transform, s.timepoints, s.min_cell_size, s.km_ci_bands, s.km_annotation
(0.9, 'log-log', (6.0, 12.0), 10, True, 'logrank')
>>> @takes_settings
... def rate(x, conf_level=0.95, min_cell_size=None):
...     return conf_level, min_cell_size
>>> rate(1, settings=s), rate(1, conf_level=0.8, settings=s), rate(1)
((0.9, 10), (0.8, 10), (0.95, None))
>>> Settings(conf_level=95)
Traceback (most recent call last):
...
ensemble_helpers.params.ParameterError: <settings>: parameter 'conf_level': must be between 0 and 1 (exclusive), got 95
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ensemble_helpers.params import CI_TRANSFORMS, KM_ANNOTATIONS, ParameterError

if TYPE_CHECKING:
    from ensemble_helpers.params import Params

__all__ = ["Settings", "SETTING_NAMES", "KEYWORDS", "takes_settings"]

F = TypeVar("F", bound=Callable[..., Any])
_SOURCE = "<settings>"


@dataclass(frozen=True)
class Settings:
    """Validated settings of a run's estimates, tables and figures.

    Attributes
    ----------
    conf_level : float
        Confidence level of every interval, in (0, 1).
    ci_transform : str
        Kaplan–Meier CI transform: ``log``, ``log-log`` or ``plain`` (R ``conf.type``).
    timepoints : tuple of float
        Landmark times (months) of survival rates, positive and finite.
    min_cell_size : int or None
        Smallest count shown (:mod:`ensemble_helpers.disclosure`); None turns suppression off.
    km_ci_bands : bool
        Figures: draw Kaplan–Meier and cumulative-incidence CIs as step ribbons (plots' ``ci=``).
    km_annotation : str
        Figures: what grouped Kaplan–Meier plots print, ``logrank``, ``hr`` or ``none``
        (``plots.km_plot(annotation=)``).
    """

    conf_level: float = 0.95
    ci_transform: str = "log-log"
    timepoints: tuple[float, ...] = (6.0, 12.0)
    min_cell_size: int | None = 5
    km_ci_bands: bool = True
    km_annotation: str = "logrank"

    def __post_init__(self) -> None:
        cl = self.conf_level
        if isinstance(cl, bool) or not isinstance(cl, (int, float)) or not 0 < cl < 1:
            raise ParameterError(_SOURCE, "conf_level", f"must be between 0 and 1 (exclusive), got {cl!r}")
        if self.ci_transform not in CI_TRANSFORMS:
            raise ParameterError(_SOURCE, "ci_transform",
                                 f"must be one of {', '.join(CI_TRANSFORMS)}, got {self.ci_transform!r}")
        points = tuple(self.timepoints)
        if any(isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0
               for t in points):
            raise ParameterError(_SOURCE, "timepoints", f"must be positive finite numbers, got {list(points)!r}")
        k = self.min_cell_size
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ParameterError(_SOURCE, "min_cell_size", f"must be a whole number >= 1 or null, got {k!r}")
        if not isinstance(self.km_ci_bands, bool):
            raise ParameterError(_SOURCE, "km_ci_bands", f"must be true or false, got {self.km_ci_bands!r}")
        if self.km_annotation not in KM_ANNOTATIONS:
            raise ParameterError(_SOURCE, "km_annotation",
                                 f"must be one of {', '.join(KM_ANNOTATIONS)}, got {self.km_annotation!r}")
        object.__setattr__(self, "conf_level", float(cl))
        object.__setattr__(self, "timepoints", tuple(float(t) for t in points))

    @classmethod
    def from_params(cls, params: "Params") -> "Settings":
        """The settings of a parameter set (each field read from the key of the same name)."""
        return cls(**{name: getattr(params, name) for name in SETTING_NAMES})


#: The settings (:class:`Settings` field names).
SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Settings))
#: The keyword of a table or plot function each setting fills (the figure options have the
#: plots' shorter names).
KEYWORDS: dict[str, str] = {**{n: n for n in SETTING_NAMES}, "km_ci_bands": "ci", "km_annotation": "annotation"}


def takes_settings(func: F) -> F:
    """Let ``func`` also take ``settings=``: a :class:`Settings` filling the keywords of
    :data:`KEYWORDS` that ``func`` has and the caller did not give.

    Raises
    ------
    TypeError
        ``settings`` is not a :class:`Settings`.
    """
    sig = inspect.signature(func)
    names = {KEYWORDS[n]: n for n in SETTING_NAMES if KEYWORDS[n] in sig.parameters}

    @functools.wraps(func)
    def wrapper(*args: Any, settings: Settings | None = None, **kwargs: Any) -> Any:
        if settings is not None:
            if not isinstance(settings, Settings):
                raise TypeError(f"{func.__name__}: settings must be a Settings "
                                f"(params.settings or cohort.settings), got {type(settings).__name__}")
            given = sig.bind_partial(*args, **kwargs).arguments
            kwargs.update({kw: getattr(settings, n) for kw, n in names.items() if kw not in given})
        return func(*args, **kwargs)

    extra = inspect.Parameter("settings", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Settings | None")
    params = list(sig.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
    wrapper.__signature__ = sig.replace(parameters=params[:at] + [extra] + params[at:])  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
