"""A generated kernel's source translated straight to LLVM IR, with Numba's meaning, without Numba's front end.

Numba spends 40 to 250 ms typing and lowering each small kernel (its generic type inference
and lowering machinery), and about 0.25 s more on its registries the first time; LLVM then
needs about 10 ms. The kernels graphc generates use a small subset of Python: typed scalar
constants, `carray`s made from addresses, counted `for` loops, `if`, assignments, arithmetic,
comparisons, casts to NumPy scalar types, a few NumPy and math functions, and the helpers of
`graphc.backends.numba.helpers`. `translate` turns that subset into an LLVM module with the
meaning Numba gives it:

- NumPy's scalar types and Numba's promotion (signed integers and booleans to int64, two
  unsigned ones to uint64; int32 or int64 with float32 to float64; float32 with float32 stays
  float32; negation in an integer's own width, then widened; NumPy's maximum and minimum
  and Python's min and max keep an integer's type), and signed
  integer overflow left undefined (`nsw`), as Numba tells LLVM;
- IEEE arithmetic as `error_model="numpy"` (x / 0 is inf; integer // and % by 0 are 0);
- a signed index below 0 counts from the end of its array; slices are clamped, as in Python;
- the same LLVM intrinsics and C library functions Numba calls for each math function, and
  its own algorithms for a float modulo and `np.logaddexp`;
- helpers (`exp_f32`, `tanh_f32`, `sum_run`, `all_finite`, the Philox draws) translated from
  their own Python source and inlined with their fast-math flags, `gemm` lowered as its
  intrinsic is, and `add_run` / `copy_run` of a literal length as one vector operation; the
  driver's functions (`compile_function`) the same way.

Anything else raises `Untranslatable` (a power of unsigned integers, or of a float to an
integer, NumPy functions of narrow or mixed integer types, uint64 literals...) and the kernel goes to Numba as before: this is a shorter
road to the same meaning, never a second one. Each operator, function and cast is checked
against Numba, bit for bit, on edge values (tests/graphc/test_kernel_ir.py).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir
from numba import carray
from numba.core import event
from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import cpu_target

from . import helpers
from .driver import address_as, call_kernel

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
I8, I16, I32, I64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
U8, U64, BOOL = np.dtype(np.uint8), np.dtype(np.uint64), np.dtype(np.bool_)
_LL: dict[np.dtype, ir.Type] = {F32: ir.FloatType(), F64: ir.DoubleType(), BOOL: ir.IntType(1)}
for _t in (I8, I16, I32, I64, U8, U64):
    _LL[_t] = ir.IntType(8 * _t.itemsize)
_I64, _BYTE = ir.IntType(64), ir.IntType(8)
# The scalar types generated code names, by the object it names them with.
_SCALAR_TYPES: dict[Any, np.dtype] = {np.float32: F32, np.float64: F64, np.int8: I8, np.int16: I16, np.int32: I32,
                                      np.int64: I64, np.uint8: U8, np.uint64: U64, np.bool_: BOOL, float: F64}
# Math functions: an LLVM intrinsic (name) or a C function (float32 name, float64 name), as Numba.
_INTRINSICS = {np.exp: "llvm.exp", np.log: "llvm.log", np.sin: "llvm.sin", np.cos: "llvm.cos", np.floor: "llvm.floor",
               np.ceil: "llvm.ceil", np.rint: "llvm.rint", math.exp: "llvm.exp", math.log: "llvm.log", math.sin: "llvm.sin",
               math.cos: "llvm.cos"}
_EXTERNS = {np.tanh: ("tanhf", "tanh"), np.sqrt: ("sqrtf", "sqrt"), np.log1p: ("log1pf", "log1p"),
            np.expm1: ("expm1f", "expm1"), np.tan: ("tanf", "tan"), np.arctan: ("atanf", "atan"),
            np.sinh: ("sinhf", "sinh"), np.cosh: ("coshf", "cosh"), math.erf: ("erff", "erf"),
            math.sqrt: ("sqrtf", "sqrt"), math.tanh: ("tanhf", "tanh")}
_BINARY_EXTERNS = {np.arctan2: ("atan2f", "atan2"), np.hypot: ("hypotf", "hypot"), math.atan2: ("atan2f", "atan2")}
# A loop not to unroll: LLVM reads loop properties from a distinct node naming itself, which
# llvmlite cannot build, so a placeholder naming this marker is rewritten in the module's text.
_NO_UNROLL = "graphc.loop.no_unroll"
LONGEST_RUN = 64  # the longest `add_run` or `copy_run` made one vector operation
_FEW_TRIPS = 8  # a loop nest running at most this many times is left to LLVM to unroll (a kernel's taps)
_NO_UNROLL_NODE = re.compile(r'^(![0-9]+) = !\{ *!"graphc\.loop\.no_unroll\.[0-9]+" *\}$', re.M)
_LANES = "graphc.loop.lanes"
_LANES_NODE = re.compile(r'^(![0-9]+) = !\{ *!"graphc\.loop\.lanes\.[0-9]+" *\}$', re.M)
_ORDERED = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


def _literal(node: ast.expr) -> Any:
    """The value of a number literal in the source (`-3` included), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal(node.operand)
        return None if inner is None else -inner
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) else None


class Untranslatable(Exception):
    """The source uses something this translator does not give Numba's meaning to."""


@dataclass(frozen=True)
class Array:
    """A 1-D array of `dtype` elements at `pointer`, `size` long (an i64 value; None for a
    plain pointer, indexed as it is: the kernel's `g` and `p`)."""

    pointer: ir.Value
    size: ir.Value | None
    dtype: np.dtype


@dataclass(frozen=True)
class Value:
    """A scalar of `dtype`."""

    llvm: ir.Value
    dtype: np.dtype


def _is_float(t: np.dtype) -> bool:
    return t.kind == "f"


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The type Numba computes `a op b` in, for arithmetic and comparisons."""
    if a == b and a not in (BOOL, U8, I8, I16, I32):
        return a
    if _is_float(a) and _is_float(b):
        return F64 if F64 in (a, b) else F32
    if _is_float(a) or _is_float(b):
        f, other = (a, b) if _is_float(a) else (b, a)
        if f == F64 or other.itemsize >= 4:
            return F64
        return F32
    if a.kind == "u" and b.kind == "u":
        return U64  # two unsigned integers: uint64 (Numba), whatever their widths
    if U64 in (a, b):
        raise Untranslatable(f"arithmetic of {a} and {b}")
    return I64  # signed integers and booleans


def _unify(a: np.dtype, b: np.dtype) -> np.dtype:
    """The type of a value that is either `a` or `b` (both arms of `x if c else y`)."""
    if a == b:
        return a
    if BOOL in (a, b):
        raise Untranslatable(f"{a} and {b} in one value")
    return _promote(a, b)


class _Function:
    """One function's translation: its builder, variables and the loops around the code."""

    def __init__(self, module: ir.Module, function: ir.Function, scope: dict[str, Any]) -> None:
        self.module, self.function, self.scope = module, function, scope
        entry = function.append_basic_block("entry")
        self.allocas = ir.IRBuilder(entry)
        body = function.append_basic_block("body")
        self.allocas.branch(body)
        self.allocas.position_at_start(entry)
        self.b = ir.IRBuilder(body)
        self.names: dict[str, Any] = {}  # a local: an alloca and its dtype, or an Array
        self.flags: tuple[str, ...] = ()  # fast-math flags of the helper being inlined
        # Inlined functions being translated, innermost last: where their returns go, and the
        # slots their values go to (None until the first return with a value; a tuple's, several).
        self.exits: list[tuple[ir.Block, list[tuple[ir.AllocaInstr, np.dtype]] | None, bool]] = []
        self.loops: list[tuple[ir.Block, ir.Block]] = []  # where `continue` and `break` go, innermost last
        # per loop being translated, innermost last: its back edges, and whether it holds a loop
        self.back_edges: list[tuple[list[ir.Instruction], list[bool]]] = []
        self.marked = 0  # loops marked not to unroll
        self.result: np.dtype | None = None  # what the function itself returns (None: nothing)

    # -- values ---------------------------------------------------------------------------
    def cast(self, v: Value, to: np.dtype) -> Value:
        """`v` converted to `to`, as Numba's casts."""
        b, t = self.b, v.dtype
        if t == to:
            return v
        ll = _LL[to]
        if to == BOOL:
            return Value(self.truth(v), BOOL)
        if t == BOOL:  # via int32, as Numba
            v = Value(b.zext(v.llvm, ir.IntType(32)), I32)
            t = I32
            if to == I32:
                return v
        if _is_float(t) and _is_float(to):
            return Value(b.fpext(v.llvm, ll) if t.itemsize < to.itemsize else b.fptrunc(v.llvm, ll), to)
        if _is_float(to):
            return Value(b.sitofp(v.llvm, ll) if t.kind == "i" else b.uitofp(v.llvm, ll), to)
        if _is_float(t):
            return Value(b.fptosi(v.llvm, ll) if to.kind == "i" else b.fptoui(v.llvm, ll), to)
        if t.itemsize == to.itemsize:
            return Value(v.llvm, to)
        if to.itemsize < t.itemsize:
            return Value(b.trunc(v.llvm, ll), to)
        return Value(b.sext(v.llvm, ll) if t.kind == "i" else b.zext(v.llvm, ll), to)

    def truth(self, v: Value) -> ir.Value:
        if v.dtype == BOOL:
            return v.llvm
        if _is_float(v.dtype):
            return self.b.fcmp_unordered("!=", v.llvm, ir.Constant(_LL[v.dtype], 0.0))
        return self.b.icmp_unsigned("!=", v.llvm, ir.Constant(_LL[v.dtype], 0))

    def constant(self, value: Any) -> Value:
        if isinstance(value, (bool, np.bool_)):
            return Value(ir.Constant(_LL[BOOL], int(bool(value))), BOOL)
        if isinstance(value, int):
            if not -(1 << 63) <= value < (1 << 63):
                raise Untranslatable(f"integer literal {value}")  # uint64 in Numba
            return Value(ir.Constant(_I64, value), I64)
        if isinstance(value, float):
            return Value(ir.Constant(_LL[F64], value), F64)
        if isinstance(value, np.generic) and value.dtype in _LL:
            if _is_float(value.dtype):
                return Value(ir.Constant(_LL[value.dtype], float(value)), value.dtype)
            return Value(ir.Constant(_LL[value.dtype], int(value)), value.dtype)
        raise Untranslatable(f"constant {value!r}")

    def intrinsic(self, name: str, args: list[ir.Value]) -> ir.Value:
        """A call of LLVM intrinsic `name` overloaded on its arguments' (one) type."""
        return self.function_named(f"{name}.{args[0].type.intrinsic_name}", args, pure=False)

    def extern(self, name: str, args: list[ir.Value]) -> ir.Value:
        """A call of C function `name`, declared pure as Numba declares it."""
        return self.function_named(name, args, pure=True)

    def function_named(self, name: str, args: list[ir.Value], pure: bool) -> ir.Value:
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(args[0].type, [a.type for a in args]), name=name)
            if pure:
                fn.attributes.add("readonly")
                fn.attributes.add("nounwind")
        return self.b.call(fn, args)

    # -- expressions ----------------------------------------------------------------------
    def expr(self, node: ast.expr) -> Any:
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise Untranslatable(type(node).__name__)
        return method(node)

    def scalar(self, node: ast.expr) -> Value:
        v = self.expr(node)
        if not isinstance(v, Value):
            raise Untranslatable(f"{ast.unparse(node)} is not a number")
        return v

    def global_(self, node: ast.expr) -> Any:
        """The object a name or attribute (np.exp) refers to in the module's scope."""
        if isinstance(node, ast.Name):
            if node.id in self.names:
                raise Untranslatable(f"local {node.id} called")
            if node.id in self.scope:
                return self.scope[node.id]
            if hasattr(builtins, node.id):
                return getattr(builtins, node.id)
        if isinstance(node, ast.Attribute):
            return getattr(self.global_(node.value), node.attr)
        raise Untranslatable(f"{ast.unparse(node)}")

    def expr_Constant(self, node: ast.Constant) -> Value:
        return self.constant(node.value)

    def expr_Name(self, node: ast.Name) -> Any:
        local = self.names.get(node.id)
        if isinstance(local, Array):
            return local
        if local is not None:
            slot, dtype = local
            return Value(self.b.load(slot), dtype)
        return self.constant(self.global_(node))

    def expr_Attribute(self, node: ast.Attribute) -> Value:
        local = isinstance(node.value, ast.Name) and node.value.id in self.names or isinstance(node.value, ast.Subscript)
        base = self.expr(node.value) if local else None
        if isinstance(base, Array) and base.size is not None and node.attr == "size":
            return Value(base.size, I64)
        if isinstance(base, Array) and node.attr == "itemsize":
            return Value(ir.Constant(_I64, base.dtype.itemsize), I64)
        if base is None:
            return self.constant(self.global_(node))
        raise Untranslatable(ast.unparse(node))

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return self.constant(-node.operand.value)  # type: ignore[operator]  # a negative literal
        v = self.scalar(node.operand)
        if isinstance(node.op, ast.Not):
            return Value(self.b.not_(self.truth(v)), BOOL)
        if isinstance(node.op, ast.USub):
            if _is_float(v.dtype):
                return Value(self.b.fsub(ir.Constant(_LL[v.dtype], -0.0), v.llvm, flags=self.flags), v.dtype)
            if v.dtype == BOOL:
                raise Untranslatable("-bool")
            # negated in the integer's own width, then widened (int64 or uint64), as Numba
            return self.cast(Value(self.b.neg(v.llvm), v.dtype), I64 if v.dtype.kind == "i" else U64)
        raise Untranslatable(type(node.op).__name__)

    def binary(self, op: ast.operator, x: Value, y: Value) -> Value:
        b = self.b
        if isinstance(op, (ast.BitAnd, ast.BitOr, ast.BitXor)) and x.dtype == BOOL and y.dtype == BOOL:
            fn = {ast.BitAnd: b.and_, ast.BitOr: b.or_, ast.BitXor: b.xor}[type(op)]
            return Value(fn(x.llvm, y.llvm), BOOL)
        t, x_type, y_type = _promote(x.dtype, y.dtype), x.dtype, y.dtype
        if isinstance(op, ast.Div) and not _is_float(t):
            t = F64
        x, y = self.cast(x, t), self.cast(y, t)
        a, c, f = x.llvm, y.llvm, self.flags
        if _is_float(t):
            simple = {ast.Add: b.fadd, ast.Sub: b.fsub, ast.Mult: b.fmul, ast.Div: b.fdiv}.get(type(op))
            if simple is not None:
                return Value(simple(a, c, flags=f), t)
            if isinstance(op, ast.Mod):
                return Value(self.float_mod(a, c), t)
            if isinstance(op, ast.Pow):  # a float to an integer power is another algorithm in Numba
                if not (_is_float(x_type) and _is_float(y_type)):
                    raise Untranslatable("a power with an integer operand")
                return Value(self.intrinsic("llvm.pow", [a, c]), t)
            raise Untranslatable(f"float {type(op).__name__}")
        if isinstance(op, ast.Pow):
            if t.kind != "i":
                raise Untranslatable("an unsigned power")  # Numba's float fallback converts to uint64 its own way
            return Value(self.int_power(self.cast(x, I64).llvm, self.cast(y, I64).llvm), I64)
        wrapping = {ast.Add: b.add, ast.Sub: b.sub, ast.Mult: b.mul}.get(type(op))
        if wrapping is not None:  # signed overflow is undefined, as Numba tells LLVM (nsw)
            return Value(wrapping(a, c, flags=("nsw",) if t.kind == "i" else ()), t)
        simple = {ast.BitAnd: b.and_, ast.BitOr: b.or_, ast.BitXor: b.xor, ast.LShift: b.shl}.get(type(op))
        if simple is not None:
            return Value(simple(a, c), t)
        if isinstance(op, ast.RShift):
            return Value(b.ashr(a, c) if t.kind == "i" else b.lshr(a, c), t)
        if isinstance(op, (ast.FloorDiv, ast.Mod)) and t == I64:
            return Value(self.divmod(a, c)[isinstance(op, ast.Mod)], t)
        raise Untranslatable(f"integer {type(op).__name__}")

    def float_mod(self, x: ir.Value, y: ir.Value) -> ir.Value:
        """Python's float modulo, as Numba computes it (`real_mod_impl`): the remainder takes the
        divisor's sign, a zero remainder the divisor's sign too; modulo 0 is NaN."""
        b, zero = self.b, ir.Constant(x.type, 0.0)
        rem = b.frem(x, y)
        fixed = b.select(b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", rem, zero)),
                         b.fadd(rem, y), rem)
        signed_zero = b.select(b.fcmp_ordered("<", y, zero), ir.Constant(x.type, -0.0), zero)
        python = b.select(b.fcmp_unordered("!=", rem, zero), fixed, signed_zero)
        return b.select(b.fcmp_ordered("==", y, zero), rem, python)

    def logaddexp(self, x: Value, y: Value) -> Value:
        """np.logaddexp as Numba computes it (NumPy's npy_logaddexp): x + log 2 where x == y, else
        the larger plus log1p(exp(-|x - y|)); NaN when the difference is. One exp and one log1p
        run, on the branch taken."""
        b, t = self.b, x.dtype
        ll, log1p = _LL[t], "log1pf" if t == F32 else "log1p"
        zero = ir.Constant(ll, 0.0)

        def tail(base: Value, exponent: ir.Value) -> Value:
            return Value(b.fadd(base.llvm, self.extern(log1p, [self.intrinsic("llvm.exp", [exponent])])), t)

        def unequal() -> Value:
            diff = b.fsub(x.llvm, y.llvm)
            return self.branches(b.fcmp_ordered(">", diff, zero), lambda: tail(x, b.fsub(ir.Constant(ll, -0.0), diff)),
                                 lambda: self.branches(b.fcmp_ordered("<=", diff, zero), lambda: tail(y, diff),
                                                       lambda: Value(diff, t)))

        return self.branches(b.fcmp_ordered("==", x.llvm, y.llvm),
                             lambda: Value(b.fadd(x.llvm, ir.Constant(ll, math.log(2.0))), t), unequal)

    def int_power(self, x: ir.Value, y: ir.Value) -> ir.Value:
        """x ** y of int64s as Numba computes it (`int_power_impl`, NumPy's error model):
        squaring and multiplying, wrapping on overflow; past 65536 a float power converted back
        (-2**63 where it overflows); a negative y gives 1 for x = 1, +-1 for x = -1, -2**63
        for x = 0 and 0 otherwise."""
        b, ll = self.b, x.type
        one, zero, lowest = ir.Constant(ll, 1), ir.Constant(ll, 0), ir.Constant(ll, -(1 << 63))
        result, base, left = (self.allocas.alloca(ll, name=n) for n in ("pow.result", "pow.base", "pow.left"))
        b.store(one, result)
        b.store(x, base)
        b.store(y, left)
        head, body, done = (self.function.append_basic_block(n) for n in ("pow.head", "pow.body", "pow.end"))
        b.branch(head)
        b.position_at_end(head)
        e = b.load(left)
        b.cbranch(b.icmp_signed(">", e, zero), body, done)
        b.position_at_end(body)
        r, m = b.load(result), b.load(base)
        b.store(b.select(b.trunc(e, ir.IntType(1)), b.mul(r, m), r), result)
        b.store(b.mul(m, m), base)
        b.store(b.ashr(e, one), left)
        b.branch(head)
        b.position_at_end(done)
        power = b.load(result)

        def far() -> Value:  # Numba's float fallback for exponents past 65536, on its own path
            double = ir.DoubleType()
            real = self.intrinsic("llvm.pow", [b.sitofp(x, double), b.sitofp(y, double)])
            fits = b.fcmp_ordered("<", self.intrinsic("llvm.fabs", [real]), ir.Constant(double, 2.0**63))
            return Value(b.select(fits, b.fptosi(real, ll), lowest), I64)

        positive = self.branches(b.icmp_signed(">", y, ir.Constant(ll, 0x10000)), far, lambda: Value(power, I64)).llvm
        minus_one = ir.Constant(ll, -1)
        odd_sign = b.select(b.icmp_signed("==", b.and_(y, one), zero), one, minus_one)
        unit = b.select(b.icmp_signed("==", x, one), one, b.select(b.icmp_signed("==", x, minus_one), odd_sign,
                                                                     b.select(b.icmp_signed("==", x, zero), lowest, zero)))
        return b.select(b.icmp_signed("<", y, zero), unit, positive)

    def divmod(self, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
        """Python's floor division and modulo of int64s, 0 and 0 for a zero divisor or
        overflow (Numba's `int_divmod_signed` with the NumPy error model)."""
        b = self.b
        zero, one = ir.Constant(_I64, 0), ir.Constant(_I64, 1)
        start = b.block
        compute, fix, done = (self.function.append_basic_block(n) for n in ("divmod", "divmod.fix", "divmod.end"))
        bad = b.or_(b.icmp_signed("==", y, zero),
                    b.and_(b.icmp_signed("==", x, ir.Constant(_I64, -(1 << 63))), b.icmp_signed("==", y, ir.Constant(_I64, -1))))
        b.cbranch(bad, done, compute)
        b.position_at_end(compute)
        q, r = b.sdiv(x, y), b.srem(x, y)
        differ = b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("<", b.xor(y, r), zero))
        b.cbranch(differ, fix, done)
        b.position_at_end(fix)
        q2, r2 = b.sub(q, one), b.add(r, y)
        b.branch(done)
        b.position_at_end(done)
        quotient, remainder = b.phi(_I64), b.phi(_I64)
        for (qv, rv), block in (((zero, zero), start), ((q, r), compute), ((q2, r2), fix)):
            quotient.add_incoming(qv, block)
            remainder.add_incoming(rv, block)
        return quotient, remainder

    def expr_BinOp(self, node: ast.BinOp) -> Value:
        literals = [_literal(n) for n in (node.left, node.right)]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in literals):
            # folded when Python compiles the source: Numba sees the value
            try:
                folded = eval(compile(ast.Expression(body=node), "<literal>", "eval"), {})  # noqa: S307
            except ArithmeticError as exc:
                raise Untranslatable(f"{ast.unparse(node)}: {exc}") from exc
            return self.constant(folded)
        return self.binary(node.op, self.scalar(node.left), self.scalar(node.right))

    def compare(self, op: ast.cmpop, x: Value, y: Value) -> ir.Value:
        if type(op) not in _ORDERED:
            raise Untranslatable(type(op).__name__)
        if self.flags:
            raise Untranslatable("a comparison under fast-math flags")  # Numba flags it too
        t = _promote(x.dtype, y.dtype) if (x.dtype, y.dtype) != (BOOL, BOOL) else BOOL
        x, y, sign = self.cast(x, t), self.cast(y, t), _ORDERED[type(op)]
        if _is_float(t):
            if sign == "!=":
                return self.b.fcmp_unordered(sign, x.llvm, y.llvm)
            return self.b.fcmp_ordered(sign, x.llvm, y.llvm)
        if t.kind == "i":
            return self.b.icmp_signed(sign, x.llvm, y.llvm)
        return self.b.icmp_unsigned(sign, x.llvm, y.llvm)

    def expr_Compare(self, node: ast.Compare) -> Value:
        left = self.scalar(node.left)
        if len(node.ops) == 1:
            return Value(self.compare(node.ops[0], left, self.scalar(node.comparators[0])), BOOL)
        # a < b < c: each comparison only while the ones before hold, each operand once
        end = self.function.append_basic_block("chain.end")
        results = []
        for i, (op, right_node) in enumerate(zip(node.ops, node.comparators)):
            right = self.scalar(right_node)
            holds = self.compare(op, left, right)
            results.append((holds, self.b.block))
            if i + 1 < len(node.ops):
                more = self.function.append_basic_block("chain.next")
                self.b.cbranch(holds, more, end)
                self.b.position_at_end(more)
            left = right
        self.b.branch(end)
        self.b.position_at_end(end)
        phi = self.b.phi(_LL[BOOL])
        for value, block in results:
            phi.add_incoming(value, block)
        return Value(phi, BOOL)

    def branches(self, test: ir.Value, first: Callable[[], Value], second: Callable[[], Value]) -> Value:
        """A value computed on one of two paths (the other is never run: it may read out of bounds)."""
        b = self.b
        yes, no, end = (self.function.append_basic_block(n) for n in ("then", "else", "endif"))
        b.cbranch(test, yes, no)
        b.position_at_end(yes)
        one = first()
        one_end = b.block
        b.position_at_end(no)
        two = second()
        two_end = b.block
        t = _unify(one.dtype, two.dtype)
        b.position_at_end(one_end)
        one = self.cast(one, t)
        one_end = b.block
        b.branch(end)
        b.position_at_end(two_end)
        two = self.cast(two, t)
        two_end = b.block
        b.branch(end)
        b.position_at_end(end)
        phi = b.phi(_LL[t])
        phi.add_incoming(one.llvm, one_end)
        phi.add_incoming(two.llvm, two_end)
        return Value(phi, t)

    def expr_IfExp(self, node: ast.IfExp) -> Value:
        test = self.truth(self.scalar(node.test))
        return self.branches(test, lambda: self.scalar(node.body), lambda: self.scalar(node.orelse))

    def expr_BoolOp(self, node: ast.BoolOp) -> Value:
        first = self.scalar(node.values[0])
        if first.dtype != BOOL:
            raise Untranslatable("and/or of non-booleans")
        rest = ast.BoolOp(op=node.op, values=node.values[1:]) if len(node.values) > 2 else node.values[1]
        if isinstance(node.op, ast.And):
            return self.branches(first.llvm, lambda: self._bool(rest), lambda: first)
        return self.branches(first.llvm, lambda: first, lambda: self._bool(rest))

    def _bool(self, node: ast.expr) -> Value:
        v = self.scalar(node)
        if v.dtype != BOOL:
            raise Untranslatable("and/or of non-booleans")
        return v

    def index(self, array: Array, node: ast.expr) -> ir.Value:
        """The address of `array[node]`; a signed index below zero counts from the end."""
        i = self.scalar(node)
        if i.dtype.kind not in "iu":
            raise Untranslatable("non-integer index")
        if i.dtype.kind == "u":
            return self.b.gep(array.pointer, [self.cast(i, U64).llvm])
        at = self.cast(i, I64).llvm
        if array.size is not None:
            at = self.b.select(self.b.icmp_signed("<", at, ir.Constant(_I64, 0)), self.b.add(at, array.size), at)
        return self.b.gep(array.pointer, [at])

    def array(self, node: ast.expr) -> Array:
        v = self.expr(node)
        if not isinstance(v, Array):
            raise Untranslatable(f"{ast.unparse(node)} is not an array")
        return v

    def expr_Subscript(self, node: ast.Subscript) -> Any:
        array = self.array(node.value)
        if isinstance(node.slice, ast.Slice):
            s = node.slice
            if s.step is not None or s.lower is None or s.upper is None:
                raise Untranslatable("slice")
            if array.size is None:
                raise Untranslatable("slice of a pointer")
            lo, hi = (self.bound(self.scalar(v), array.size) for v in (s.lower, s.upper))
            b = self.b
            size = b.select(b.icmp_signed(">", hi, lo), b.sub(hi, lo), ir.Constant(_I64, 0))
            return Array(b.gep(array.pointer, [lo]), size, array.dtype)
        value = self.b.load(self.index(array, node.slice))
        if array.dtype == BOOL:  # any byte but 0 is true
            value = self.b.icmp_unsigned("!=", value, ir.Constant(_BYTE, 0))
        return Value(value, array.dtype)

    def bound(self, v: Value, size: ir.Value) -> ir.Value:
        """A slice bound as Python reads it: below zero counts from the end, then clamped to [0, size]."""
        if v.dtype.kind not in "iu":
            raise Untranslatable("a slice bound that is not an integer")
        b, zero = self.b, ir.Constant(_I64, 0)
        at = self.cast(v, I64).llvm if v.dtype.kind == "i" else self.cast(v, U64).llvm
        if v.dtype.kind == "i":
            at = b.select(b.icmp_signed("<", at, zero), b.add(at, size), at)
            at = b.select(b.icmp_signed("<", at, zero), zero, at)
        return b.select(b.icmp_unsigned(">", at, size), size, at)

    def expr_Call(self, node: ast.Call) -> Any:
        if node.keywords:
            raise Untranslatable("keyword arguments")
        fn = self.global_(node.func)
        args = node.args
        if fn in _SCALAR_TYPES and len(args) == 1:
            return self.cast(self.scalar(args[0]), _SCALAR_TYPES[fn])
        if fn is helpers._f32_from_bits:
            return Value(self.b.bitcast(self.cast(self.scalar(args[0]), I32).llvm, _LL[F32]), F32)
        if fn is helpers.gemm:
            return self.gemm(args)
        if fn in (helpers.add_run, helpers.copy_run) and len(args) == 5 and isinstance(_literal(args[4]), int):
            return self.run(args, added=fn is helpers.add_run)
        if fn is address_as:
            raise Untranslatable("address_as outside carray")
        if fn is carray:
            return self.carray(args)
        if fn is call_kernel:
            return self.call_kernel(args)
        if hasattr(fn, "py_func") and hasattr(fn, "targetoptions"):  # a Numba function
            return self.inline(fn, args)
        values = [self.scalar(a) for a in args]
        return self.math(fn, values)

    def math(self, fn: Any, values: list[Value]) -> Value:
        b = self.b
        if fn in (abs, np.abs, np.absolute) and len(values) == 1:
            (v,) = values
            if _is_float(v.dtype):
                return Value(self.intrinsic("llvm.fabs", [v.llvm]), v.dtype)
            if v.dtype.kind == "i":
                negative = b.icmp_signed("<", v.llvm, ir.Constant(_LL[v.dtype], 0))
                return Value(b.select(negative, b.neg(v.llvm), v.llvm), v.dtype)
            if v.dtype.kind == "u":
                return v
            raise Untranslatable(f"abs of {v.dtype}")
        if fn in (min, max) and len(values) == 2 and all(v.dtype.kind == "i" for v in values):
            t = max((v.dtype for v in values), key=lambda d: d.itemsize)  # the wider signed type, as Numba
            x, y = (self.cast(v, t) for v in values)
            keep = b.icmp_signed("<" if fn is min else ">", y.llvm, x.llvm)
            return Value(b.select(keep, y.llvm, x.llvm), t)
        if self.flags:
            raise Untranslatable("a function call under fast-math flags")  # Numba flags it too
        if len(values) == 2 and values[0].dtype != values[1].dtype and fn not in (min, max):
            raise Untranslatable(f"{fn!r} of {values[0].dtype} and {values[1].dtype}")  # NumPy's loop choice
        if fn in (np.maximum, np.minimum) and len(values) == 2:
            t = values[0].dtype  # both of one type (above): NumPy's loop for it
            x, y = (v.llvm for v in values)
            if t == BOOL:
                raise Untranslatable(f"{fn!r} of booleans")
            if not _is_float(t):
                compare = b.icmp_signed if t.kind == "i" else b.icmp_unsigned
                keep = compare(">=" if fn is np.maximum else "<=", x, y)
                return Value(b.select(keep, x, y), t)
            x_nan = b.fcmp_unordered("uno", x, x)
            any_nan = b.fcmp_unordered("uno", x, y)
            keep = b.fcmp_ordered(">=" if fn is np.maximum else "<=", x, y)
            return Value(b.select(any_nan, b.select(x_nan, x, y), b.select(keep, x, y)), t)
        if fn in _BINARY_EXTERNS and len(values) == 2:
            t = _promote(values[0].dtype, values[1].dtype)
            if not _is_float(t):
                raise Untranslatable(f"{fn!r} of integers")
            return Value(self.extern(_BINARY_EXTERNS[fn][t == F64], [self.cast(v, t).llvm for v in values]), t)
        if fn is np.logaddexp and len(values) == 2:
            t = values[0].dtype
            if not _is_float(t):
                raise Untranslatable("logaddexp of integers")
            return self.logaddexp(values[0], values[1])
        if fn is np.copysign and len(values) == 2:
            t = _promote(values[0].dtype, values[1].dtype)
            if not _is_float(t):
                raise Untranslatable("copysign of integers")
            return Value(self.intrinsic("llvm.copysign", [self.cast(v, t).llvm for v in values]), t)
        if len(values) != 1:
            raise Untranslatable(f"{fn!r} of {len(values)} arguments")
        (v,) = values
        if fn in (np.isfinite, math.isfinite):
            if not _is_float(v.dtype):
                raise Untranslatable("isfinite of an integer")
            d = b.fsub(v.llvm, v.llvm)
            return Value(b.fcmp_ordered("ord", d, d), BOOL)
        if fn is np.sign:
            if not _is_float(v.dtype):
                raise Untranslatable("sign of an integer")
            ll = _LL[v.dtype]
            positive, negative = b.fcmp_ordered(">", v.llvm, ir.Constant(ll, 0.0)), b.fcmp_ordered("<", v.llvm, ir.Constant(ll, 0.0))
            return Value(b.select(positive, ir.Constant(ll, 1.0), b.select(negative, ir.Constant(ll, -1.0), v.llvm)), v.dtype)
        if fn in _INTRINSICS or fn in _EXTERNS:
            if not _is_float(v.dtype):
                # an integer: float64 for math's functions; for NumPy's, float64 from int32 and
                # int64 only (NumPy picks float32 for narrower ones; floor and ceil keep integers)
                numpy_function = isinstance(fn, np.ufunc)
                if v.dtype.kind not in "iu" or numpy_function and (v.dtype.itemsize < 4 or fn in (np.floor, np.ceil, np.rint)):
                    raise Untranslatable(f"{fn!r} of {v.dtype}")
                v = self.cast(v, F64)
            if fn in _INTRINSICS:
                return Value(self.intrinsic(_INTRINSICS[fn], [v.llvm]), v.dtype)
            return Value(self.extern(_EXTERNS[fn][v.dtype == F64], [v.llvm]), v.dtype)
        raise Untranslatable(f"call of {fn!r}")

    def carray(self, args: list[ast.expr]) -> Array:
        """`carray(address_as(address, dtype), size)`."""
        if len(args) != 2 or not isinstance(args[0], ast.Call) or self.global_(args[0].func) is not address_as:
            raise Untranslatable("carray of something else than address_as")
        address, dtype_node = args[0].args
        dtype = _SCALAR_TYPES.get(self.global_(dtype_node))
        if dtype is None:
            raise Untranslatable("carray of an unknown dtype")
        at = self.cast(self.scalar(address), I64).llvm
        ll = _BYTE if dtype == BOOL else _LL[dtype]
        return Array(self.b.inttoptr(at, ll.as_pointer()), self.cast(self.scalar(args[1]), I64).llvm, dtype)

    def gemm(self, args: list[ast.expr]) -> None:
        """`helpers.gemm`: one call of the BLAS's gemm, whose address the shared words hold."""
        g = self.expr(args[0])
        a, b_, c = (self.array(args[i]) for i in (1, 3, 5))
        if not isinstance(g, Array) or g.dtype != I64 or a.dtype not in (F32, F64) or not a.dtype == b_.dtype == c.dtype:
            raise Untranslatable("gemm arguments")
        ia, ib, ic, ta, tb, m, n, k = (self.cast(self.scalar(args[i]), I64).llvm for i in (2, 4, 6, 7, 8, 9, 10, 11))
        alpha, beta = (self.cast(self.scalar(args[i]), a.dtype).llvm for i in (12, 13))
        b = self.b
        element, i32 = _LL[a.dtype], ir.IntType(32)
        pointer = element.as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, _I64, _I64, _I64, element, pointer, _I64, pointer, _I64,
                                               element, pointer, _I64])
        word = helpers.G_SGEMM if a.dtype == F32 else helpers.G_DGEMM
        target = b.inttoptr(b.load(b.gep(g.pointer, [ir.Constant(_I64, word)])), fnty.as_pointer())
        data = [b.gep(x.pointer, [off]) for x, off in ((a, ia), (b_, ib), (c, ic))]
        ta, tb = b.icmp_unsigned("!=", ta, ir.Constant(_I64, 0)), b.icmp_unsigned("!=", tb, ir.Constant(_I64, 0))
        trans, no_trans = ir.Constant(i32, helpers.TRANS), ir.Constant(i32, helpers.NO_TRANS)
        b.call(target, (ir.Constant(i32, helpers.ROW_MAJOR), b.select(ta, trans, no_trans), b.select(tb, trans, no_trans),
                        m, n, k, alpha, data[0], b.select(ta, m, k), data[1], b.select(tb, k, n), beta, data[2], n))
        return None

    def run(self, args: list[ast.expr], added: bool) -> None:
        """`helpers.add_run` or `copy_run(dst, i, src, j, n)` with a literal n: the source run
        loaded as one vector (and added to the target's) and stored (the runs never overlap, so
        loading all before storing any keeps the loop's meaning)."""
        dst, src = self.array(args[0]), self.array(args[2])
        n = _literal(args[4])
        if dst.dtype != src.dtype or not _is_float(dst.dtype) or not 0 < n <= LONGEST_RUN:
            raise Untranslatable("add_run or copy_run arguments")
        b = self.b
        vector = ir.VectorType(_LL[dst.dtype], n).as_pointer()
        at = [b.bitcast(b.gep(x.pointer, [self.cast(self.scalar(args[k]), U64).llvm]), vector)
              for x, k in ((dst, 1), (src, 3))]
        size = dst.dtype.itemsize
        value = b.load(at[1], align=size)
        b.store(b.fadd(b.load(at[0], align=size), value) if added else value, at[0], align=size)
        return None

    def call_kernel(self, args: list[ast.expr]) -> None:
        """`driver.call_kernel(function, g, p)`: a call through the address `function`."""
        if len(args) != 3:
            raise Untranslatable("call_kernel arguments")
        function, g, p = (self.cast(self.scalar(a), I64).llvm for a in args)
        block = _I64.as_pointer()
        kind = ir.FunctionType(ir.VoidType(), [block, block])
        self.b.call(self.b.inttoptr(function, kind.as_pointer()), [self.b.inttoptr(g, block), self.b.inttoptr(p, block)])
        return None

    # -- Numba functions (helpers, the driver's parts), inlined from their Python source ----
    def inline(self, helper: Any, args: list[ast.expr]) -> Value | tuple[Value, ...] | None:
        options = helper.targetoptions
        if options.get("error_model") != "numpy" or options.get("boundscheck") or options.get("parallel"):
            raise Untranslatable(f"{helper.py_func.__name__}: compiled with other options")
        fastmath = options.get("fastmath") or ()
        tree = _helper_tree(helper.py_func)
        params = [a.arg for a in tree.args.args]
        if len(params) != len(args) or tree.args.vararg or tree.args.kwonlyargs or tree.args.defaults:
            raise Untranslatable(f"{helper.py_func.__name__}: {len(args)} arguments")
        values = [self.expr(a) for a in args]
        saved = (self.names, self.scope, self.flags, self.loops)
        self.names, self.scope, self.loops = {}, helper.py_func.__globals__, []
        self.flags = ("fast",) if fastmath is True else tuple(sorted(fastmath))
        for name, v in zip(params, values):
            self.bind(name, v)
        end = self.function.append_basic_block(f"{helper.py_func.__name__}.end")
        self.exits.append((end, None, False))
        try:
            self.block(tree.body)
            _, slots, many = self.exits.pop()
            if not self.b.block.is_terminated:  # falls off its end: returns None
                if slots is not None:
                    raise Untranslatable(f"{helper.py_func.__name__} can end without a value")
                self.b.branch(end)
        finally:
            self.names, self.scope, self.flags, self.loops = saved
        self.b.position_at_end(end)
        if slots is None:
            return None
        loaded = tuple(Value(self.b.load(slot), dtype) for slot, dtype in slots)
        return loaded if many else loaded[0]

    # -- statements -----------------------------------------------------------------------
    def bind(self, name: str, v: Any) -> None:
        """Assign `v` to local `name` (an array, or a scalar of the type it first had)."""
        if isinstance(v, Array):
            if name in self.names and not isinstance(self.names[name], Array):
                raise Untranslatable(f"{name}: array and scalar")
            self.names[name] = v
            return
        if not isinstance(v, Value):
            raise Untranslatable(f"{name} = nothing")
        local = self.names.get(name)
        if local is None:
            slot = self.allocas.alloca(_LL[v.dtype], name=name)
            self.names[name] = local = (slot, v.dtype)
        if isinstance(local, Array) or local[1] != v.dtype:
            raise Untranslatable(f"{name} takes two types")
        self.b.store(v.llvm, local[0])

    def store(self, target: ast.Subscript, v: Value) -> None:
        array = self.array(target.value)
        if isinstance(target.slice, ast.Slice):
            raise Untranslatable("slice assignment")
        at = self.index(array, target.slice)
        v = self.cast(v, array.dtype)
        self.b.store(self.b.zext(v.llvm, _BYTE) if array.dtype == BOOL else v.llvm, at)

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            if self.b.block.is_terminated:
                return  # code after a return
            method = getattr(self, f"stmt_{type(stmt).__name__}", None)
            if method is None:
                raise Untranslatable(type(stmt).__name__)
            method(stmt)

    def stmt_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) != 1:
            raise Untranslatable("chained assignment")
        (target,) = node.targets
        if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            if isinstance(node.value, ast.Tuple):
                values = [self.expr(v) for v in node.value.elts]  # all read before any is assigned
            else:
                values = self.expr(node.value)  # an inlined function's tuple
            if not isinstance(values, (tuple, list)) or len(values) != len(target.elts):
                raise Untranslatable(f"assignment to {ast.unparse(target)}")
            for t, v in zip(target.elts, values):
                self.bind(t.id, v)  # type: ignore[attr-defined]
        elif isinstance(target, ast.Name):
            self.bind(target.id, self.expr(node.value))
        elif isinstance(target, ast.Subscript):
            self.store(target, self.scalar(node.value))
        else:
            raise Untranslatable(f"assignment to {ast.unparse(target)}")

    def stmt_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            current = self.scalar(ast.Name(id=node.target.id, ctx=ast.Load()))
            self.bind(node.target.id, self.binary(node.op, current, self.scalar(node.value)))
        elif isinstance(node.target, ast.Subscript):
            array = self.array(node.target.value)
            at = self.index(array, node.target.slice)
            current = self.b.load(at)
            if array.dtype == BOOL:
                raise Untranslatable("augmented assignment to a bool array")
            v = self.cast(self.binary(node.op, Value(current, array.dtype), self.scalar(node.value)), array.dtype)
            self.b.store(v.llvm, at)
        else:
            raise Untranslatable(f"assignment to {ast.unparse(node.target)}")

    def stmt_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring
        if not isinstance(node.value, ast.Call):
            raise Untranslatable("expression statement")
        self.expr(node.value)

    def stmt_Return(self, node: ast.Return) -> None:
        if not self.exits:  # the function itself
            if (node.value is None) != (self.result is None):
                raise Untranslatable("return of another type")
            if node.value is None:
                self.b.ret_void()
            else:
                self.b.ret(self.cast(self.scalar(node.value), I64).llvm)  # the driver's functions: int64
            return
        end, slots, many = self.exits[-1]
        if node.value is not None:
            elements = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            values = [self.scalar(e) for e in elements]
            if slots is None:
                slots = [(self.allocas.alloca(_LL[v.dtype], name="result"), v.dtype) for v in values]
                many = isinstance(node.value, ast.Tuple)
                self.exits[-1] = (end, slots, many)
            if many != isinstance(node.value, ast.Tuple) or [d for _, d in slots] != [v.dtype for v in values]:
                raise Untranslatable("returns of two types")
            for (slot, _), v in zip(slots, values):
                self.b.store(v.llvm, slot)
        elif slots is not None:
            raise Untranslatable("return with and without a value")
        self.b.branch(end)

    def stmt_If(self, node: ast.If) -> None:
        b = self.b
        test = self.truth(self.scalar(node.test))
        yes, end = self.function.append_basic_block("if.then"), self.function.append_basic_block("if.end")
        no = self.function.append_basic_block("if.else") if node.orelse else end
        b.cbranch(test, yes, no)
        for block, body in ((yes, node.body), (no, node.orelse)):
            if block is end:
                continue
            b.position_at_end(block)
            self.block(body)
            if not b.block.is_terminated:
                b.branch(end)
        b.position_at_end(end)

    def stmt_For(self, node: ast.For) -> None:
        """`for i in range(...)` with a constant step (Numba's meaning: the bounds evaluated once)."""
        it = node.iter
        if node.orelse or not isinstance(node.target, ast.Name) or not isinstance(it, ast.Call) \
                or self.global_(it.func) is not range or not 1 <= len(it.args) <= 3 or it.keywords:
            raise Untranslatable("for loop")
        bounds = [self.scalar(a) for a in it.args[:2]]
        if any(v.dtype.kind not in "iu" for v in bounds):
            raise Untranslatable("range of non-integers")
        step = 1
        lanes = isinstance(it.func, ast.Name) and it.func.id == "lanes"  # `lanes = range`: see helpers.lanes
        if len(it.args) == 3:
            s = it.args[2]
            literal = s.operand.value if isinstance(s, ast.UnaryOp) and isinstance(s.op, ast.USub) and isinstance(s.operand, ast.Constant) else None
            given = -literal if isinstance(literal, int) else s.value if isinstance(s, ast.Constant) else None
            if not isinstance(given, int) or given == 0:
                raise Untranslatable("range step")
            step = given
        kinds = {v.dtype.kind for v in bounds}
        if kinds not in ({"i"}, {"u"}):
            raise Untranslatable("range of mixed signedness")
        t = I64 if kinds == {"i"} else U64  # Numba's loop variable: int64, or uint64 for unsigned bounds
        start, stop = (self.cast(v, t) for v in bounds) if len(bounds) == 2 else (Value(ir.Constant(_LL[t], 0), t), self.cast(bounds[0], t))
        b, ll = self.b, _LL[t]
        compare = b.icmp_unsigned if t == U64 else b.icmp_signed
        # Steps of one: the variable itself runs to `stop` (it cannot pass it). Longer steps
        # could step past the type's end, so they count trips first, as Numba does.
        counter = self.allocas.alloca(ll, name=f"{node.target.id}.next")
        trips_left = None
        if abs(step) == 1:
            b.store(start.llvm, counter)
        else:
            ahead = compare("<" if step > 0 else ">", start.llvm, stop.llvm)
            span = b.sub(stop.llvm, start.llvm) if step > 0 else b.sub(start.llvm, stop.llvm)
            count = b.add(b.udiv(b.sub(span, ir.Constant(ll, 1)), ir.Constant(ll, abs(step))), ir.Constant(ll, 1))
            trips_left = b.select(ahead, count, ir.Constant(ll, 0))
            b.store(ir.Constant(ll, 0), counter)
        head, body, end = (self.function.append_basic_block(n) for n in ("for.head", "for.body", "for.end"))
        b.branch(head)
        b.position_at_end(head)
        k = b.load(counter)
        if trips_left is None:
            more, i = compare("<" if step > 0 else ">", k, stop.llvm), k
        else:
            more, i = b.icmp_unsigned("<", k, trips_left), b.add(start.llvm, b.mul(k, ir.Constant(ll, step)))
        b.cbranch(more, body, end)
        b.position_at_end(body)
        b.store(b.add(k, ir.Constant(ll, step if trips_left is None else 1)), counter)
        self.bind(node.target.id, Value(i, t))
        trips = None
        if isinstance(start.llvm, ir.Constant) and isinstance(stop.llvm, ir.Constant):
            trips = max(0, -(-(int(stop.llvm.constant) - int(start.llvm.constant)) // step))
        self.loop_body(node.body, head, end, few=trips is not None and trips <= _FEW_TRIPS, lanes=lanes)

    def loop_body(self, body: list[ast.stmt], head: ir.Block, end: ir.Block, few: bool = False,
                  lanes: bool = False) -> None:
        """The body of a loop starting at `head`, then on to `end`. A loop holding another loop
        is marked not to be unrolled (`_NO_UNROLL`) unless it runs at most `_FEW_TRIPS` times
        (`few`: a convolution's taps, which unrolled run 10% faster): LLVM's unroller copies whole
        loop nests of constant trip counts, a second of compile time for one kernel that copies
        four (32, 128) blocks, for no speed the inner loop's vectorization does not give. The
        one place where the machine code is not the one Numba would make (the meaning is)."""
        if self.back_edges:
            self.back_edges[-1][1][0] = True  # the enclosing loop holds one
        self.loops.append((head, end))
        self.back_edges.append(([], [False]))
        self.block(body)
        self.loops.pop()
        if not self.b.block.is_terminated:
            self.back_edge(head)
        edges, (nested,) = self.back_edges.pop()
        if lanes or nested and not few:
            self.marked += 1  # a node of its own per loop, as LLVM wants
            kind = _LANES if lanes else _NO_UNROLL
            marker = self.module.add_metadata([ir.MetaDataString(self.module, f"{kind}.{self.marked}")])
            for edge in edges:
                edge.set_metadata("llvm.loop", marker)
        self.b.position_at_end(end)

    def back_edge(self, head: ir.Block) -> None:
        self.back_edges[-1][0].append(self.b.branch(head))

    def stmt_While(self, node: ast.While) -> None:
        if node.orelse:
            raise Untranslatable("while ... else")
        b = self.b
        head, body, end = (self.function.append_basic_block(n) for n in ("while.head", "while.body", "while.end"))
        b.branch(head)
        b.position_at_end(head)
        b.cbranch(self.truth(self.scalar(node.test)), body, end)
        b.position_at_end(body)
        self.loop_body(node.body, head, end)

    def stmt_Continue(self, node: ast.Continue) -> None:
        if not self.loops:
            raise Untranslatable("continue outside a loop")
        self.back_edge(self.loops[-1][0])

    def stmt_Break(self, node: ast.Break) -> None:
        if not self.loops:
            raise Untranslatable("break outside a loop")
        self.b.branch(self.loops[-1][1])


_trees: dict[Any, ast.FunctionDef] = {}


def _helper_tree(fn: Callable[..., Any]) -> ast.FunctionDef:
    tree = _trees.get(fn)
    if tree is None:
        parsed = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        tree = _trees[fn] = parsed.body[0]  # type: ignore[assignment]
    return tree  # type: ignore[return-value]


def _translate(tree: ast.FunctionDef, scope: dict[str, Any], name: str, pointers: bool) -> str:
    """The LLVM module (text) defining function `name` from `tree`: `void name(i64* g, i64* p)`
    for a kernel (`pointers`), else `i64 name(i64 ...)`, or `Untranslatable`."""
    module = ir.Module(name=name)
    params = [a.arg for a in tree.args.args]
    pointer = _I64.as_pointer()
    kind = (ir.FunctionType(ir.VoidType(), [pointer] * len(params)) if pointers
            else ir.FunctionType(_I64, [_I64] * len(params)))
    function = ir.Function(module, kind, name=name)
    function.attributes.add("nounwind")
    f = _Function(module, function, scope)
    f.result = None if pointers else I64
    for param, arg in zip(params, function.args):
        if pointers:
            f.names[param] = Array(arg, None, I64)
        else:
            f.bind(param, Value(arg, I64))
    f.block(tree.body)
    if not f.b.block.is_terminated:
        if f.result is not None:
            raise Untranslatable(f"{name} can end without a value")
        f.b.ret_void()
    text = _NO_UNROLL_NODE.sub(r'\1 = distinct !{\1, !{!"llvm.loop.unroll.disable"}}', str(module))
    return _LANES_NODE.sub(r'\1 = distinct !{\1, !{!"llvm.loop.unroll.disable"}, !{!"llvm.loop.vectorize.enable", i1 true}}', text)


def translate(source: str, scope: dict[str, Any], name: str) -> str:
    """The LLVM module (text) defining `void name(i64* g, i64* p)` from the kernel of module
    `source` whose names are bound in `scope` (the module's own, executed), or `Untranslatable`."""
    tree = ast.parse(source)
    kernels = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "kernel"]
    if len(kernels) != 1 or [a.arg for a in kernels[0].args.args] != ["g", "p"]:
        raise Untranslatable("no kernel(g, p)")
    return _translate(kernels[0], scope, name, pointers=True)


def _build(text: str, name: str) -> tuple[Any, int]:
    library = cpu_target.target_context.codegen().create_library(name)
    library.enable_object_caching()  # so that `machine_code` can keep its object code
    library.add_llvm_module(llvm.parse_assembly(text))
    with global_compiler_lock, event.trigger_event("numba:llvm_lock"):
        library.finalize()
        address = library.get_pointer_to_function(name)
    return library, int(address)


def compile_function(fn: Callable[..., Any], name: str) -> tuple[Any, int]:
    """Python function `fn` of int64 arguments returning an int64 (one of the driver's),
    translated and compiled as C function `name`: its code library and address."""
    return _build(_translate(_helper_tree(fn), fn.__globals__, name, pointers=False), name)


def compile_kernel(source: str, scope: dict[str, Any], name: str) -> tuple[Any, int]:
    """The kernel of module `source` (its names bound in `scope`) translated and compiled by
    Numba's code generator (its optimization pipeline and target, as for a cfunc): the code
    library and the address of function `name`; or `Untranslatable`."""
    return _build(translate(source, scope, name), name)
