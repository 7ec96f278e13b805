using System.Buffers.Binary;
using System.Text;

namespace DeepSharp.Tests.Fuzzing;

/// <summary>
/// Seeded byte-level mutations of valid inputs: bit flips, byte insertion and deletion, chunk
/// duplication, integer fields set to boundary values (1, 2, 4 and 8 bytes, either endianness),
/// decimal numbers in text replaced by boundary values, splices with another seed, and truncation.
/// The random source is a SplitMix64 of our own, so a (seed, iteration) pair gives the same input
/// on every .NET version.
/// </summary>
internal sealed class Mutator(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, n).</summary>
    public int Below(int n) => n <= 0 ? 0 : (int)(Next() % (ulong)n);

    public bool Chance(double p) => (Next() >> 11) * (1.0 / (1UL << 53)) < p;

    public T Pick<T>(IReadOnlyList<T> items) => items[Below(items.Count)];

    private static readonly ulong[] s_boundaries =
    [
        0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4095, 4096, 32767, 32768, 65535, 65536,
        0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, ulong.MaxValue, ulong.MaxValue - 1,
        16384, 100_000_000, 1 << 28, (1 << 28) + 1, 0x7FFFFFC7, 0x7FFFFFC8,
    ];

    public ulong Boundary() => Chance(0.8) ? Pick(s_boundaries) : Pick(s_boundaries) + (ulong)(Below(5) - 2);

    private static readonly string[] s_numbers =
    [
        "0", "-0", "1", "-1", "2", "255", "256", "65535", "65536", "-2147483648", "2147483647", "2147483648", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999",
        "1e39", "-1e39", "3.4028235e38", "3.5e38", "1e308", "1e309", "1e-50", "NaN", "Infinity", "-Infinity", "0x10", "1.5", "1,5", "", " ",
    ];

    /// <summary>One to <paramref name="maxOps"/> stacked mutations of <paramref name="input"/>; <paramref name="other"/> is a second seed for splices.</summary>
    public byte[] Mutate(byte[] input, byte[] other, int maxOps = 4)
    {
        var data = new List<byte>(input);
        int ops = 1 + Below(maxOps);
        for (int k = 0; k < ops; k++) MutateOnce(data, other);
        return [.. data];
    }

    private void MutateOnce(List<byte> d, byte[] other)
    {
        switch (Below(10))
        {
            case 0: // bit flips
                if (d.Count == 0) goto case 3;
                for (int i = 0, n = 1 + Below(8); i < n; i++) { int at = Below(d.Count); d[at] ^= (byte)(1 << Below(8)); }
                break;
            case 1: // interesting byte values
                if (d.Count == 0) goto case 3;
                d[Below(d.Count)] = Pick<byte>([0, 1, 0x7F, 0x80, 0xFF, (byte)'0', (byte)'9', (byte)' ', (byte)'\n', (byte)'"', (byte)',', (byte)':', (byte)'{', (byte)'}']);
                break;
            case 2: // delete a range
                if (d.Count == 0) goto case 3;
                { int at = Below(d.Count), n = 1 + Below(Math.Min(16, d.Count - at)); d.RemoveRange(at, n); }
                break;
            case 3: // insert random bytes
                {
                    int at = Below(d.Count + 1), n = 1 + Below(16);
                    var bytes = new byte[n];
                    for (int i = 0; i < n; i++) bytes[i] = (byte)Next();
                    d.InsertRange(at, bytes);
                }
                break;
            case 4: // duplicate a chunk
                if (d.Count == 0) goto case 3;
                {
                    int from = Below(d.Count), n = 1 + Below(Math.Min(64, d.Count - from));
                    d.InsertRange(Below(d.Count + 1), d.GetRange(from, n));
                }
                break;
            case 5: // integer field set to a boundary value
            case 6:
                {
                    int width = Pick([1, 2, 4, 8]);
                    if (d.Count < width) goto case 3;
                    int at = Below(d.Count - width + 1);
                    Span<byte> field = stackalloc byte[8];
                    if (Chance(0.5)) BinaryPrimitives.WriteUInt64BigEndian(field, Boundary() << (8 * (8 - width))); // value in the top bytes
                    else BinaryPrimitives.WriteUInt64LittleEndian(field, Boundary());
                    for (int i = 0; i < width; i++) d[at + i] = field[i];
                }
                break;
            case 7: // a decimal number in text replaced by a boundary value
                {
                    var digits = FindDigitRun(d);
                    if (digits is not { } run) goto case 5;
                    d.RemoveRange(run.Start, run.Length);
                    d.InsertRange(run.Start, Encoding.ASCII.GetBytes(Pick(s_numbers)));
                }
                break;
            case 8: // splice: a piece of the other seed
                if (other.Length == 0) goto case 3;
                {
                    int from = Below(other.Length), n = 1 + Below(Math.Min(256, other.Length - from));
                    int at = Below(d.Count + 1);
                    if (Chance(0.5) && at < d.Count) d.RemoveRange(at, Math.Min(n, d.Count - at));
                    d.InsertRange(at, other.AsSpan(from, n).ToArray());
                }
                break;
            default: // truncation
                if (d.Count == 0) goto case 3;
                { int keep = Below(d.Count); d.RemoveRange(keep, d.Count - keep); }
                break;
        }
    }

    private (int Start, int Length)? FindDigitRun(List<byte> d)
    {
        if (d.Count == 0) return null;
        int start = Below(d.Count);
        for (int k = 0; k < d.Count; k++)
        {
            int i = (start + k) % d.Count;
            if (!IsNumberByte(d[i])) continue;
            int s = i, e = i;
            while (s > 0 && IsNumberByte(d[s - 1])) s--;
            while (e < d.Count && IsNumberByte(d[e])) e++;
            return (s, e - s);
        }
        return null;
    }

    private static bool IsNumberByte(byte b) => b is >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+';

    /// <summary>Text mutations for JSON: a value replaced by a hostile one, an element removed or duplicated.</summary>
    public string MutateJson(string json)
    {
        string[] values = ["null", "[]", "{}", "\"\"", "\"\\ud800\"", "\"ab\"", "\"😀\"", "\"<unk>\"", "1e400", "-1", "0", "true", "\"a b\"", "[null]", "\"x:y\"", "\"1:2:3\"", "\"18446744073709551616:1\""];
        var sb = new StringBuilder(json);
        for (int k = 0, ops = 1 + Below(3); k < ops; k++)
        {
            if (sb.Length == 0) break;
            int at = Below(sb.Length);
            switch (Below(4))
            {
                case 0: // replace the string or number at a position by a hostile value
                    {
                        int s = at, e = at;
                        if (sb[at] == '"') { e = at + 1; while (e < sb.Length && sb[e] != '"') e++; e = Math.Min(e + 1, sb.Length); }
                        else { while (e < sb.Length && sb[e] is not (',' or '}' or ']' or ':')) e++; }
                        sb.Remove(s, e - s).Insert(s, Pick(values));
                    }
                    break;
                case 1: // delete up to the next comma
                    {
                        int e = at;
                        while (e < sb.Length && sb[e] != ',') e++;
                        sb.Remove(at, Math.Min(e + 1, sb.Length) - at);
                    }
                    break;
                case 2: // duplicate a slice
                    {
                        int n = 1 + Below(Math.Min(40, sb.Length - at));
                        sb.Insert(Below(sb.Length), sb.ToString(at, n));
                    }
                    break;
                default:
                    {
                        var bytes = Mutate(Encoding.UTF8.GetBytes(sb.ToString()), [], 1);
                        sb.Clear().Append(Encoding.UTF8.GetString(bytes));
                    }
                    break;
            }
        }
        return sb.ToString();
    }
}
