namespace DeepSharp;

/// <summary>
/// One element converted to another number type, as PyTorch's <c>item&lt;T&gt;()</c> does: floating point to an integer
/// truncates toward zero, anything to bool is "not zero", and a value the target cannot hold is an OverflowException.
/// </summary>
internal static class ScalarConversion
{
    public static T To<T>(Tensor tensor, int storageIndex) where T : unmanaged
    {
        if (tensor.DType == DType.Int64) return FromInteger<T>(tensor.Array<long>()[storageIndex]);
        double value = tensor.GetAsDouble(storageIndex);
        if (typeof(T) == typeof(double)) return (T)(object)value;
        if (typeof(T) == typeof(float)) return (T)(object)(float)value;
        if (typeof(T) == typeof(Half)) return (T)(object)(Half)value;
        if (typeof(T) == typeof(bool)) return (T)(object)(value != 0);
        if (double.IsNaN(value)) throw Overflow<T>("NaN");
        double truncated = Math.Truncate(value);
        // Every long is a double's integer part only up to 2^63 (exclusive): compare in double, convert after.
        if (truncated < -9.2233720368547758e18 || truncated >= 9.2233720368547758e18) throw Overflow<T>(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (typeof(T) == typeof(ulong) && truncated >= 0) return (T)(object)(ulong)truncated;
        return FromInteger<T>((long)truncated, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static T FromInteger<T>(long value, string? shown = null) where T : unmanaged
    {
        shown ??= value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            object result = typeof(T) switch
            {
                var t when t == typeof(long) => value,
                var t when t == typeof(int) => checked((int)value),
                var t when t == typeof(short) => checked((short)value),
                var t when t == typeof(sbyte) => checked((sbyte)value),
                var t when t == typeof(ulong) => checked((ulong)value),
                var t when t == typeof(uint) => checked((uint)value),
                var t when t == typeof(ushort) => checked((ushort)value),
                var t when t == typeof(byte) => checked((byte)value),
                var t when t == typeof(double) => (double)value,
                var t when t == typeof(float) => (float)value,
                var t when t == typeof(Half) => (Half)value,
                var t when t == typeof(bool) => value != 0,
                _ => throw new ArgumentException($"Item: {typeof(T).Name} is not a number type (double, float, Half, long, int, short, sbyte, ulong, uint, ushort, byte, bool)"),
            };
            return (T)result;
        }
        catch (OverflowException)
        {
            throw Overflow<T>(shown);
        }
    }

    private static OverflowException Overflow<T>(string value) =>
        new($"Item: the value {value} cannot be converted to {typeof(T).Name} without overflow");
}
