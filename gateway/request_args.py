"""A request's parameters -> its operation's argument model, reused for parameters seen before.

Every action maps the client's parameters (``spec.params``, a compiled mapping) and builds the
operation's argument model (:func:`gateway.service.build_args`); together about a twentieth of
a GetTicket whose backend answer is new.  A polling client sends the very same parameters
request after request, and both steps are functions of those parameters alone, so the model
they gave is handed back again: an identity memo over the parameters' items, kept only where
nothing could make a second run differ:

* the mapping is not volatile (no transform reads the clock) and met no unmapped enum value
  (each one is counted in a metric on every request: ``transforms.unmapped_seen``);
* the argument model is frozen, as :func:`~gateway.service.build_args` shares it (it memoises
  the same models by their mapped values);
* every parameter is a short ``str`` (what ``read_form`` gives; a list for ``name[]`` keys, a
  reply's long message, anything else: mapped as usual, every time).

Errors are never kept: a refused parameter is refused again by the mapping itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from gateway.mapping.compiler import is_volatile
from gateway.mapping.transforms import unmapped_seen
from gateway.service import build_args

if TYPE_CHECKING:
    from gateway.mapping.loader import ActionSpec

MEMO_SIZE = 512  # cleared whole when full (as build_args' memo)
SHORT = 256  # a longer parameter (a message) is not kept in a key

# (the action's params function, its operation, then every parameter's name and value in order)
# -> the model; the function in the key keeps it (and its id) alive: a reloaded mapping's
# actions never meet the entries of the one before
_MEMO: dict[tuple[Any, ...], BaseModel] = {}


def args_for(spec: ActionSpec, params: dict[str, Any]) -> BaseModel:
    """``build_args(spec.operation, spec.params(params))``, or the model it gave these parameters before."""
    key = (spec.params, spec.operation, *params.items())
    try:
        hit = _MEMO.get(key)
    except TypeError:  # an unhashable value (a PHP list parameter): never kept
        return build_args(spec.operation, spec.params(params))
    if hit is not None:
        return hit
    seen = unmapped_seen()
    args = build_args(spec.operation, spec.params(params))
    if unmapped_seen() == seen and _keepable(spec, params, args):
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = args
    return args


def _keepable(spec: ActionSpec, params: dict[str, Any], args: BaseModel) -> bool:
    """Whether the mapping and model of these parameters may be handed to the next request."""
    if not args.model_config.get("frozen") or is_volatile(spec.params):
        return False
    # exactly str (1 == 1.0 == True hash and compare alike: a key must not join them)
    return all(type(v) is str and len(v) <= SHORT for v in params.values())


def clear() -> None:
    """Forget every kept model (tests)."""
    _MEMO.clear()
