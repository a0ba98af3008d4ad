"""compilers: NeuronGraph <-> PyTorch (compile, sync, recompile, from_torch, interpret).

Imports graphnet.core only. The compiler itself arrives with its own issue; until then this
package exports nothing.
"""

__all__: list[str] = []
