using System.Numerics;
using DeepSharp.Kernels;

namespace DeepSharp;

/// <summary>
/// An elementwise binary op for every numeric element type at once (float32, float64, int64): ops name it once,
/// <c>Binary&lt;Mul&gt;("mul", a, b)</c>, and the dispatcher instantiates its kernel for the tensor's element type
/// (instead of every call site passing one kernel struct per type).
/// </summary>
internal interface INumericBinaryOp
{
    static abstract void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T>;
    static abstract void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T>;
    static abstract void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T>;
}

/// <summary>The kernel struct of <typeparamref name="TOp"/> for element type <typeparamref name="T"/> (a struct: specialised and inlined by the JIT).</summary>
internal readonly struct NumericKernel<TOp, T> : IBinarySpanOp<T> where TOp : INumericBinaryOp where T : unmanaged, INumber<T>
{
    public void Apply(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) => TOp.Apply(x, y, dst);
    public void Apply(ReadOnlySpan<T> x, T y, Span<T> dst) => TOp.Apply(x, y, dst);
    public void Apply(T x, ReadOnlySpan<T> y, Span<T> dst) => TOp.Apply(x, y, dst);
}

// The numeric binary ops, each naming its kernel once for all element types.
internal readonly struct Add : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(AddOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(AddOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(AddOp<T>).Apply(x, y, dst);
}

internal readonly struct Sub : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(SubOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(SubOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(SubOp<T>).Apply(x, y, dst);
}

internal readonly struct Mul : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MulOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(MulOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MulOp<T>).Apply(x, y, dst);
}

internal readonly struct Div : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(DivOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(DivOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(DivOp<T>).Apply(x, y, dst);
}

internal readonly struct Max : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MaxOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(MaxOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MaxOp<T>).Apply(x, y, dst);
}

internal readonly struct Min : INumericBinaryOp
{
    public static void Apply<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MinOp<T>).Apply(x, y, dst);
    public static void Apply<T>(ReadOnlySpan<T> x, T y, Span<T> dst) where T : unmanaged, INumber<T> => default(MinOp<T>).Apply(x, y, dst);
    public static void Apply<T>(T x, ReadOnlySpan<T> y, Span<T> dst) where T : unmanaged, INumber<T> => default(MinOp<T>).Apply(x, y, dst);
}

public sealed partial class Tensor
{
    /// <summary>a op b with broadcasting, for float32, float64 and int64 tensors of the same dtype.</summary>
    internal static Tensor Binary<TOp>(string op, Tensor a, Tensor b) where TOp : INumericBinaryOp =>
        BinaryNumeric(op, a, b, default(NumericKernel<TOp, float>), default(NumericKernel<TOp, double>), default(NumericKernel<TOp, long>));

    /// <summary>x op s (or s op x when <paramref name="scalarFirst"/>), the scalar converted to x's dtype.</summary>
    internal static Tensor Scalar<TOp>(string op, Tensor x, double s, bool scalarFirst = false) where TOp : INumericBinaryOp =>
        ScalarNumeric(op, x, s, scalarFirst, default(NumericKernel<TOp, float>), default(NumericKernel<TOp, double>), default(NumericKernel<TOp, long>));
}

/// <summary>A computation written once over a floating-point element type; <see cref="Dispatch.Float{TK}"/> picks T from the dtype.</summary>
internal interface IFloatKernel
{
    void Run<T>() where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An <see cref="IFloatKernel"/> that returns a value (a loss's weight sum, a recurrent layer's output).</summary>
internal interface IFloatKernel<out TResult>
{
    TResult Run<T>() where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>A computation written once over a numeric element type (float32, float64, int64); see <see cref="Dispatch.Numeric"/>.</summary>
internal interface INumericKernel
{
    void Run<T>() where T : unmanaged, INumber<T>;
}

/// <summary>A computation written once over any element type, bool included (copies and gathers); see <see cref="Dispatch.Any"/>.</summary>
internal interface IElementKernel
{
    void Run<T>() where T : unmanaged;
}

/// <summary>
/// The one place an op's element type becomes a type argument: an op states its kernel call once as a struct
/// generic over T and passes it here, instead of writing one branch per dtype. Kernel structs are specialised per
/// T by the JIT (no boxing, no delegate).
/// </summary>
internal static class Dispatch
{
    /// <summary>Runs <paramref name="kernel"/> for float32 or float64 (the caller has checked the dtype is one of them).</summary>
    public static void Float<TK>(DType dtype, in TK kernel) where TK : struct, IFloatKernel
    {
        if (dtype == DType.Float32) kernel.Run<float>();
        else if (dtype == DType.Float64) kernel.Run<double>();
        else throw new ArgumentException($"expected a float32 or float64 tensor, got {dtype.Name()}");
    }

    /// <summary>Runs <paramref name="kernel"/> for float32 or float64 and returns its result.</summary>
    public static TResult Float<TK, TResult>(DType dtype, in TK kernel) where TK : struct, IFloatKernel<TResult> => dtype switch
    {
        DType.Float32 => kernel.Run<float>(),
        DType.Float64 => kernel.Run<double>(),
        _ => throw new ArgumentException($"expected a float32 or float64 tensor, got {dtype.Name()}"),
    };

    /// <summary>Runs <paramref name="kernel"/> for the element type of <paramref name="dtype"/>, whichever it is.</summary>
    public static void Any<TK>(DType dtype, in TK kernel) where TK : struct, IElementKernel
    {
        switch (dtype)
        {
            case DType.Float32: kernel.Run<float>(); break;
            case DType.Float64: kernel.Run<double>(); break;
            case DType.Int64: kernel.Run<long>(); break;
            default: kernel.Run<bool>(); break;
        }
    }

    /// <summary>Runs <paramref name="kernel"/> for float32, float64 or int64; bool is refused naming <paramref name="op"/>.</summary>
    public static void Numeric<TK>(string op, DType dtype, in TK kernel) where TK : struct, INumericKernel
    {
        switch (dtype)
        {
            case DType.Float32: kernel.Run<float>(); break;
            case DType.Float64: kernel.Run<double>(); break;
            case DType.Int64: kernel.Run<long>(); break;
            default: throw new ArgumentException($"{op}: not supported for bool tensors");
        }
    }
}
