"""One kernel calling another by the callee's address: the callee's code is compiled once, not again in each caller.

numba links a callee's LLVM module into its caller's and runs module optimisation and machine code generation over
the whole linked module (``numba.core.codegen.CPUCodeLibrary.finalize``), so every kernel that calls chapter 6's
``conv_stack.forward_part`` and ``backward_part`` (the one-thread step, the threaded step, the parallel conv kernels)
paid their 5 s of compile again, and compiling them first did not help. Called through ``caller``'s intrinsic, the
callee stays a separate function: the caller's module holds one indirect call in numba's own calling convention
(its exceptions propagate as from a direct call), and the address comes in as an ``int64`` argument at run time
(``address``), never as a constant in the caller's code, so both kernels stay in numba's on-disk cache as they were.

The price is that LLVM cannot inline the callee or specialise it for the caller's constants: for a callee that runs
for hundreds of microseconds a call, nothing measurable.
"""

from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic


def caller(restype, expected, name):
    """An intrinsic ``call(address, *args)`` that calls the kernel compiled at ``address`` (an int64) with
    ``args`` and returns its ``restype`` value. ``expected(argument types)`` gives the types that kernel was
    compiled for: a call with others is a typing error (the callee would misread them), never a call."""

    @intrinsic
    def call(typingctx, address, *args):
        want = tuple(expected(args))
        if address != types.int64 or tuple(args) != want:
            raise TypingError(f"{name} called by address with {tuple(args)}; it is compiled for {want}")
        star = types.StarArgTuple(args)

        def codegen(context, builder, signature, values):
            fnty = context.call_conv.get_function_type(restype, want)
            callee = builder.inttoptr(values[0], fnty.as_pointer())
            unpacked = cgutils.unpack_tuple(builder, values[1], len(want))
            status, result = context.call_conv.call_function(builder, callee, restype, list(want), unpacked)
            with cgutils.if_unlikely(builder, status.is_error):
                context.call_conv.return_status_propagate(builder, status)
            return result

        return restype(address, star), codegen

    return call


def address(kernel, signature):
    """The address of ``kernel``'s machine code for ``signature`` (numba's calling convention), compiled here or
    loaded from numba's cache first."""
    kernel.compile(signature)
    compiled = kernel.overloads[tuple(signature)]
    at = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
    if not at:
        raise RuntimeError(f"{kernel.__name__} has no machine code for {signature}")
    return at
