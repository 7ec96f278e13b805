using System.Globalization;

namespace DeepSharp.Data;

/// <summary>
/// The value given to pixels that have no source (padding, rotated-in corners, erased patches): one
/// value for every channel, or one per channel. Converts implicitly from a float or a float[], so
/// <c>fill: 0.5f</c> and <c>fill: new[] { 0.4f, 0.5f, 0.6f }</c> both read naturally.
/// </summary>
public readonly struct Fill
{
    private readonly float[]? _perChannel;

    /// <summary>One value for every channel.</summary>
    public Fill(float value) => Value = value;

    /// <summary>One value per channel (a single value applies to all channels).</summary>
    public Fill(float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length == 0) throw new ArgumentException("Fill: give at least one value");
        if (values.Length == 1) Value = values[0];
        else _perChannel = (float[])values.Clone();
    }

    /// <summary>The value for all channels (0 by default); the first channel's when per-channel.</summary>
    public float Value { get; }

    /// <summary>Whether there is one value per channel.</summary>
    public bool IsPerChannel => _perChannel is not null;

    /// <summary>One value for every channel.</summary>
    public static implicit operator Fill(float value) => new(value);

    /// <summary>One value per channel (a single value applies to all).</summary>
    public static implicit operator Fill(float[] values) => new(values);

    /// <summary>The value for channel <paramref name="channel"/>.</summary>
    public float this[int channel] => _perChannel is null ? Value : _perChannel[channel];

    /// <summary>Throws unless the fill suits images with <paramref name="channels"/> channels.</summary>
    internal void Check(int channels, string op)
    {
        if (_perChannel is not null && _perChannel.Length != channels)
            throw new ArgumentException($"{op}: fill has {_perChannel.Length} values but the image has {channels} channels (give one value or one per channel)");
    }

    /// <summary>The value, or the per-channel values as a list "[a, b, c]".</summary>
    public override string ToString() => _perChannel is null
        ? Value.ToString(CultureInfo.InvariantCulture)
        : "[" + string.Join(", ", _perChannel.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";
}
