using System.Collections;
using System.Runtime.InteropServices;

namespace DeepSharp;

/// <summary>
/// The size of each dimension of a tensor, as <see cref="Tensor.Shape"/> returns it: an immutable list of
/// dimension sizes (PyTorch's <c>torch.Size</c>). It prints as <c>[2, 3]</c>, compares by value, works with LINQ
/// and in lambdas, supports indices from the end and ranges (<c>shape[^1]</c>, <c>shape[1..]</c>) and list
/// patterns (<c>shape is [var rows, var cols]</c>), and converts to <see cref="ReadOnlySpan{T}"/> without copying.
/// </summary>
/// <remarks>
/// A <see cref="Shape"/> wraps the tensor's own dimension array, so reading it allocates nothing; the array is never
/// modified, and a tensor whose layout changes (<see cref="Tensor.SetData"/>) gets a new one, so a shape taken
/// earlier keeps its value. <c>default(Shape)</c> is the shape of a scalar (rank 0).
/// </remarks>
/// <example>
/// <code>
/// var x = Tensor.Zeros(32, 3, 28, 28);
/// Console.WriteLine(x.Shape);                      // [32, 3, 28, 28]
/// int channels = x.Shape[1], width = x.Shape[^1];
/// if (x.Shape is [var batch, .., var w]) { }       // list pattern
/// int pixels = x.Shape[2..].ToArray().Aggregate(1, (a, b) => a * b);
/// bool same = x.Shape == new Shape(32, 3, 28, 28); // true
/// </code>
/// </example>
public readonly struct Shape : IReadOnlyList<int>, IEquatable<Shape>
{
    private readonly int[]? _dims;

    /// <summary>A shape with the given dimension sizes (copied).</summary>
    /// <param name="dimensions">The size of each dimension; none for the shape of a scalar.</param>
    /// <exception cref="ArgumentException">A size is negative.</exception>
    public Shape(params ReadOnlySpan<int> dimensions)
    {
        foreach (int d in dimensions)
        {
            if (d < 0) throw new ArgumentException($"Shape: negative dimension {d} in {Shapes.Format(dimensions)}", nameof(dimensions));
        }
        _dims = dimensions.ToArray();
    }

    private Shape(int[] dims, bool _) => _dims = dims;

    /// <summary>Wraps a tensor's dimension array without copying; the caller guarantees nobody modifies it.</summary>
    internal static Shape Wrap(int[] dims) => new(dims, false);

    private ReadOnlySpan<int> Dims => _dims;

    /// <summary>The size of dimension <paramref name="index"/> (0-based; <c>shape[^1]</c> is the last).</summary>
    /// <exception cref="IndexOutOfRangeException"><paramref name="index"/> is negative or not less than <see cref="Rank"/>.</exception>
    public int this[int index] => Dims[index];

    /// <summary>The number of dimensions (0 for a scalar).</summary>
    public int Rank => Dims.Length;

    /// <summary>The number of dimensions, as <see cref="Rank"/>; makes ranges and list patterns work.</summary>
    public int Length => Dims.Length;

    /// <summary>The number of dimensions, as <see cref="Rank"/> (<see cref="IReadOnlyCollection{T}"/>).</summary>
    public int Count => Dims.Length;

    /// <summary>The number of elements a tensor of this shape holds: the product of the sizes (1 for a scalar).</summary>
    /// <exception cref="ArgumentException">The product exceeds <see cref="int.MaxValue"/>.</exception>
    public int Numel => Shapes.Numel(Dims);

    /// <summary>The sizes of dimensions <paramref name="start"/> onwards.</summary>
    public ReadOnlySpan<int> Slice(int start) => Dims[start..];

    /// <summary>
    /// The sizes of <paramref name="length"/> dimensions from <paramref name="start"/>; what <c>shape[1..]</c> and
    /// <c>shape[..^1]</c> call.
    /// </summary>
    public ReadOnlySpan<int> Slice(int start, int length) => Dims.Slice(start, length);

    /// <summary>The sizes as a read-only span over the tensor's own array (no copy).</summary>
    public ReadOnlySpan<int> AsSpan() => Dims;

    /// <summary>The sizes in a new array.</summary>
    public int[] ToArray() => Dims.ToArray();

    /// <summary>The sizes as a read-only span (no copy), for APIs that take spans.</summary>
    public static implicit operator ReadOnlySpan<int>(Shape shape) => shape.Dims;

    /// <summary>Returns an enumerator over the sizes; <c>foreach</c> over a shape allocates nothing.</summary>
    public Enumerator GetEnumerator() => new(_dims);

    IEnumerator<int> IEnumerable<int>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Whether both shapes have the same rank and the same size in every dimension.</summary>
    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(MemoryMarshal.AsBytes(Dims));
        return hash.ToHashCode();
    }

    /// <summary>Whether two shapes are equal (<see cref="Equals(Shape)"/>).</summary>
    public static bool operator ==(Shape left, Shape right) => left.Equals(right);

    /// <summary>Whether two shapes differ (<see cref="Equals(Shape)"/>).</summary>
    public static bool operator !=(Shape left, Shape right) => !left.Equals(right);

    /// <summary>The sizes in brackets, e.g. <c>[2, 3]</c>; <c>[]</c> for a scalar.</summary>
    public override string ToString() => Shapes.Format(Dims);

    /// <summary>Enumerates the sizes of a <see cref="Shape"/> without allocating.</summary>
    public struct Enumerator : IEnumerator<int>
    {
        private readonly int[]? _dims;
        private int _index;

        internal Enumerator(int[]? dims)
        {
            _dims = dims;
            _index = -1;
        }

        /// <summary>The size at the current position.</summary>
        public readonly int Current => _dims![_index];

        readonly object IEnumerator.Current => Current;

        /// <summary>Advances to the next dimension; false after the last.</summary>
        public bool MoveNext() => ++_index < (_dims?.Length ?? 0);

        /// <summary>Goes back to before the first dimension.</summary>
        public void Reset() => _index = -1;

        /// <summary>Does nothing: the enumerator holds no resources.</summary>
        public readonly void Dispose() { }
    }
}
