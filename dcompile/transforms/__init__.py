"""Graph transforms: forward mode, reverse mode, simplification.

Every transform maps graphs to graphs by tracing, so they compose: a
Hessian-vector product is forward mode over reverse mode, a third derivative
is forward mode over that.
"""

from dcompile.transforms.forward import push_forward
from dcompile.transforms.replay import full_names, replay
from dcompile.transforms.reverse import pull_back
from dcompile.transforms.simplify import simplify

__all__ = ["full_names", "pull_back", "push_forward", "replay", "simplify"]
