namespace DeepSharp.Onnx;

// Signal processing (opset 17). Windows: HannWindow, HammingWindow, BlackmanWindow, periodic (denominator N) or
// symmetric (N - 1), cosine sums w[k] = a0 - a1 cos(2 pi k / D) + a2 cos(4 pi k / D). DFT and STFT multiply the real
// and imaginary parts by cosine and sine matrices (MatMul), so they are differentiable in the signal. MelWeightMatrix
// builds the triangular mel filter bank.
internal static partial class OnnxOps
{
    private static void RegisterSignal(Dictionary<string, Op> ops)
    {
        ops["HannWindow"] = n => One(Window(n, 0.5, 0.5, 0));
        ops["HammingWindow"] = n => One(Window(n, 25.0 / 46, 21.0 / 46, 0));
        ops["BlackmanWindow"] = n => One(Window(n, 0.42, 0.5, 0.08));
        ops["DFT"] = n => One(Dft(n));
        ops["STFT"] = n => One(Stft(n));
        ops["MelWeightMatrix"] = n => One(MelWeightMatrix(n));
    }

    private static Tensor Window(OnnxNode n, double a0, double a1, double a2)
    {
        long size = n.IntsInput(0) is [var s] ? s : throw new InvalidDataException($"ONNX {n.Describe}: size must be one integer");
        if (size < 0 || size > int.MaxValue) throw new InvalidDataException($"ONNX {n.Describe}: window size {size}");
        double denominator = n.Int("periodic", 1) != 0 ? size : size - 1;
        var dtype = OnnxTensors.DTypeOf((int)n.Int("output_datatype", OnnxTensors.Float)) ?? throw n.Unsupported("this output_datatype");
        var values = new double[size];
        for (int k = 0; k < size; k++)
        {
            double angle = denominator == 0 ? 0 : 2 * Math.PI * k / denominator;
            values[k] = a0 - a1 * Math.Cos(angle) + a2 * Math.Cos(2 * angle);
        }
        return Tensor.From(values, (int)size).To(dtype);
    }

    /// <summary>
    /// The discrete Fourier transform along the last axis of (real, imag) [..., N]: Y[k] = sum_n x[n] e^(-+2 pi i k n / N)
    /// (the inverse with + and 1/N), for k below N (or N/2 + 1 when one-sided). Returns [..., K, 2].
    /// </summary>
    private static Tensor FourierLast(Tensor real, Tensor? imag, bool inverse, bool onesided)
    {
        int length = real.ShapeArray[^1], bins = onesided ? length / 2 + 1 : length;
        var cos = new double[length * bins];
        var sin = new double[length * bins];
        for (int t = 0; t < length; t++)
            for (int k = 0; k < bins; k++)
            {
                double angle = 2 * Math.PI * (t * (long)k % length) / length;
                cos[t * bins + k] = Math.Cos(angle);
                sin[t * bins + k] = Math.Sin(angle);
            }
        var c = Tensor.From(cos, length, bins).To(real.DType);
        var s = Tensor.From(sin, length, bins).To(real.DType);
        double sign = inverse ? 1 : -1; // e^(sign i a) = cos a + sign i sin a
        var yr = real.MatMul(c);
        var yi = real.MatMul(s) * sign;
        if (imag is not null)
        {
            yr = yr - imag.MatMul(s) * sign;
            yi = yi + imag.MatMul(c);
        }
        if (inverse)
        {
            yr = yr / length;
            yi = yi / length;
        }
        return Tensor.Stack([yr, yi], yr.Rank);
    }

    /// <summary>DFT: x [batch, ..., 1 or 2] along axis (default 1), zero-padded or cut to dft_length; output [..., 2].</summary>
    private static Tensor Dft(OnnxNode n)
    {
        var x = n.Input(0);
        if (x.Rank < 2 || x.ShapeArray[^1] is not (1 or 2))
            throw new InvalidDataException($"ONNX {n.Describe}: input {Shapes.Format(x.ShapeArray)} does not end in a real (1) or complex (2) dimension");
        int axis = Axis(n.Int("axis", 1), x.Rank - 1, n);
        bool inverse = n.Int("inverse", 0) != 0, onesided = n.Int("onesided", 0) != 0;
        if (onesided && x.ShapeArray[^1] == 2) throw new InvalidDataException($"ONNX {n.Describe}: a one-sided DFT takes a real input, got {Shapes.Format(x.ShapeArray)}");
        var real = x.Select(x.Rank - 1, 0).Transpose(axis, x.Rank - 2);
        var imag = x.ShapeArray[^1] == 2 ? x.Select(x.Rank - 1, 1).Transpose(axis, x.Rank - 2) : null;
        if (n.IntsInput(1) is [var length, ..])
        {
            int size = real.ShapeArray[^1];
            if (length <= 0) throw new InvalidDataException($"ONNX {n.Describe}: dft_length {length}");
            Tensor Fit(Tensor t) => length < size ? t.Narrow(t.Rank - 1, 0, (int)length) : length > size ? t.Pad([0, (int)length - size], 0) : t;
            real = Fit(real);
            imag = imag is null ? null : Fit(imag);
        }
        var y = FourierLast(real, imag, inverse, onesided);  // [..., K, 2] with the axis moved last
        return y.Transpose(axis, y.Rank - 2).Contiguous();
    }

    /// <summary>STFT: signal [batch, length, 1 or 2] cut into frames of frame_length every frame_step, each times the window, transformed; output [batch, frames, bins, 2].</summary>
    private static Tensor Stft(OnnxNode n)
    {
        var signal = n.Input(0);
        if (signal.Rank != 3 || signal.ShapeArray[2] is not (1 or 2))
            throw new InvalidDataException($"ONNX {n.Describe}: signal {Shapes.Format(signal.ShapeArray)} is not [batch, length, 1 or 2]");
        long step = n.IntsInput(1) is [var s, ..] ? s : throw new InvalidDataException($"ONNX {n.Describe}: no frame_step");
        var window = n.Optional(2);
        long frameLength = n.IntsInput(3) is [var l, ..] ? l : window?.Numel ?? throw new InvalidDataException($"ONNX {n.Describe}: neither window nor frame_length");
        int length = signal.ShapeArray[1];
        if (step <= 0 || frameLength <= 0 || frameLength > length || (window is not null && window.Numel != frameLength))
            throw new InvalidDataException($"ONNX {n.Describe}: frame_step {step}, frame_length {frameLength}, window {(window is null ? "none" : Shapes.Format(window.ShapeArray))} for a signal of length {length}");
        bool onesided = n.Int("onesided", 1) != 0;
        if (onesided && signal.ShapeArray[2] == 2) throw new InvalidDataException($"ONNX {n.Describe}: a one-sided STFT takes a real signal, got {Shapes.Format(signal.ShapeArray)}");
        int frames = (int)((length - frameLength) / step + 1), width = (int)frameLength;
        var index = new long[frames * width];
        for (int f = 0; f < frames; f++)
            for (int t = 0; t < width; t++) index[f * width + t] = f * step + t;
        var framed = signal.IndexSelect(1, Tensor.From(index, index.Length)).Reshape(signal.ShapeArray[0], frames, width, signal.ShapeArray[2]);
        if (window is not null) framed = framed * window.To(signal.DType).Reshape(1, 1, width, 1);
        var real = framed.Select(3, 0);
        var imag = signal.ShapeArray[2] == 2 ? framed.Select(3, 1) : null;
        return FourierLast(real, imag, false, onesided);
    }

    /// <summary>
    /// MelWeightMatrix [dft_length / 2 + 1, num_mel_bins]: triangles between num_mel_bins + 2 points spaced evenly on
    /// the mel scale (2595 log10(1 + f / 700)) from lower_edge_hertz by (upper - lower) / (num_mel_bins + 2), each mapped to the spectrogram
    /// bin floor((dft_length + 1) f / sample_rate); rising from the left point to 1 at the centre, falling to the right.
    /// </summary>
    private static Tensor MelWeightMatrix(OnnxNode n)
    {
        long Integer(int i) => n.IntsInput(i) is [var v] ? v : throw new InvalidDataException($"ONNX {n.Describe}: input {i} must be one integer");
        double Real(int i) => n.Input(i).Numel == 1 ? n.Input(i).To(DType.Float64).ToDouble() : throw new InvalidDataException($"ONNX {n.Describe}: input {i} must be one number");
        long melBins = Integer(0), dftLength = Integer(1), sampleRate = Integer(2);
        double lower = Real(3), upper = Real(4);
        if (melBins <= 0 || dftLength <= 0 || sampleRate <= 0 || lower < 0 || upper <= lower)
            throw new InvalidDataException($"ONNX {n.Describe}: num_mel_bins {melBins}, dft_length {dftLength}, sample_rate {sampleRate}, edges {lower}..{upper} Hz");
        int spectrogramBins = (int)(dftLength / 2 + 1), bins = (int)melBins;
        double Mel(double hz) => 2595 * Math.Log10(1 + hz / 700);
        // The step divides by the number of points (bins + 2), as ONNX 1.12's definition, so the last point stays below upper.
        double lowMel = Mel(lower), step = (Mel(upper) - lowMel) / (bins + 2);
        var points = new long[bins + 2];
        for (int i = 0; i < points.Length; i++)
        {
            double hz = 700 * (Math.Pow(10, (i * step + lowMel) / 2595) - 1);
            points[i] = (long)Math.Floor((dftLength + 1) * hz / sampleRate);
        }
        var output = new double[spectrogramBins * bins];
        void Set(long row, int col, double v)
        {
            if (row < 0 || row >= spectrogramBins) throw new InvalidDataException($"ONNX {n.Describe}: the mel points reach bin {row} of {spectrogramBins} (upper_edge_hertz above sample_rate / 2?)");
            output[row * bins + col] = v;
        }
        for (int i = 0; i < bins; i++)
        {
            long left = points[i], centre = points[i + 1], right = points[i + 2];
            if (centre == left) Set(centre, i, 1);
            else for (long j = left; j <= centre; j++) Set(j, i, (double)(j - left) / (centre - left));
            for (long j = centre; j < right; j++) Set(j, i, (double)(right - j) / (right - centre));
        }
        var dtype = OnnxTensors.DTypeOf((int)n.Int("output_datatype", OnnxTensors.Float)) ?? throw n.Unsupported("this output_datatype");
        return Tensor.From(output, spectrogramBins, bins).To(dtype);
    }
}
