namespace DeepSharp.Onnx;

// Resize (opset 10, 11-13), the deprecated Upsample and GridSample (2-D; bilinear, nearest, bicubic). Interpolation is separable: along each resized axis the
// output is a fixed matrix [out, in] times the input (nearest: one 1 per row; linear: two weights; cubic: four),
// applied with MatMul, so the op is differentiable in its input whatever the mode. The coordinate mapping, the
// neighbour choice (edge-clamped) and the weights follow the operator's reference implementation.
internal static partial class OnnxOps
{
    private static void RegisterResize(Dictionary<string, Op> ops)
    {
        ops["Resize"] = n => One(Resize(n));
        ops["Upsample"] = n => One(Upsample(n));
        ops["GridSample"] = n => One(GridSample(n));
    }

    private static readonly string[] s_resizeModes = ["nearest", "linear", "cubic"];
    private static readonly string[] s_gridModes = ["bilinear", "nearest", "bicubic"];
    private static readonly string[] s_gridPaddings = ["zeros", "border", "reflection"];

    /// <summary>GridSample settings DeepSharp does not implement (reported at load time), or null.</summary>
    private static string? GridSampleSetting(OnnxNode n)
    {
        string mode = n.String("mode", "bilinear"), padding = n.String("padding_mode", "zeros");
        return !s_gridModes.Contains(mode) ? $"GridSample(mode={mode})"
            : !s_gridPaddings.Contains(padding) ? $"GridSample(padding_mode={padding})"
            : null;
    }
    private static readonly string[] s_coordinateModes = ["half_pixel", "asymmetric", "pytorch_half_pixel", "tf_crop_and_resize", "align_corners", "tf_half_pixel_for_nn"];
    private static readonly string[] s_nearestModes = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"];

    /// <summary>Resize and Upsample settings DeepSharp does not implement (reported at load time), or null.</summary>
    private static string? ResizeSetting(OnnxNode n)
    {
        string mode = n.String("mode", "nearest");
        if (!s_resizeModes.Contains(mode)) return $"{n.OpType}(mode={mode})";
        if (n.OpType == "Upsample") return mode == "cubic" ? "Upsample(mode=cubic)" : n.Opset < 7 ? "Upsample(opset 1 height_scale/width_scale)" : null;
        string coordinates = n.String("coordinate_transformation_mode", "half_pixel");
        if (!s_coordinateModes.Contains(coordinates)) return $"Resize(coordinate_transformation_mode={coordinates})";
        string nearest = n.String("nearest_mode", "round_prefer_floor");
        if (!s_nearestModes.Contains(nearest)) return $"Resize(nearest_mode={nearest})";
        if (n.Int("antialias", 0) != 0) return "Resize(antialias)";
        if (n.Has("axes")) return "Resize(axes)";
        if (n.String("keep_aspect_ratio_policy", "stretch") != "stretch") return "Resize(keep_aspect_ratio_policy)";
        return null;
    }

    private static Tensor Resize(OnnxNode n)
    {
        var x = n.Input(0);
        int rank = x.Rank;
        double[]? scales;
        long[]? sizes = null;
        double[]? roi = null;
        string coordinates, nearest;
        if (n.Opset < 11)
        {
            // Opset 10: X and scales only; the output is input[floor(i / scale)] for nearest, asymmetric coordinates.
            scales = n.Input(1).To(DType.Float64).ToArray<double>();
            coordinates = "asymmetric";
            nearest = "floor";
        }
        else
        {
            roi = n.Optional(1) is { Numel: > 0 } r ? r.To(DType.Float64).ToArray<double>() : null;
            scales = n.Optional(2) is { Numel: > 0 } s ? s.To(DType.Float64).ToArray<double>() : null;
            sizes = n.IntsInput(3) is { Length: > 0 } z ? z : null;
            coordinates = n.String("coordinate_transformation_mode", "half_pixel");
            nearest = n.String("nearest_mode", "round_prefer_floor");
        }
        if ((scales is null) == (sizes is null))
            throw new InvalidDataException($"ONNX {n.Describe}: exactly one of scales and sizes must be given");
        if ((scales?.Length ?? sizes!.Length) != rank)
            throw new InvalidDataException($"ONNX {n.Describe}: {(scales is null ? "sizes" : "scales")} has {scales?.Length ?? sizes!.Length} entries for an input of rank {rank}");
        if (coordinates == "tf_crop_and_resize" && (roi is null || roi.Length != 2 * rank))
            throw new InvalidDataException($"ONNX {n.Describe}: tf_crop_and_resize needs a roi of {2 * rank} values");
        var settings = new ResizeSettings(n.String("mode", "nearest"), coordinates, nearest, n.Float("cubic_coeff_a", -0.75),
            n.Int("exclude_outside", 0) != 0);
        return Interpolate(x, scales, sizes, roi, settings, n.Float("extrapolation_value", 0), n);
    }

    private static Tensor Upsample(OnnxNode n)
    {
        var x = n.Input(0);
        double[] scales = n.Opset < 9 ? n.Attribute("scales") is { } a ? [.. a.Floats.Select(f => (double)f)] : throw new InvalidDataException($"ONNX {n.Describe}: no scales")
            : n.Input(1).To(DType.Float64).ToArray<double>();
        if (scales.Length != x.Rank) throw new InvalidDataException($"ONNX {n.Describe}: {scales.Length} scales for an input of rank {x.Rank}");
        var settings = new ResizeSettings(n.String("mode", "nearest") == "bilinear" ? "linear" : n.String("mode", "nearest"), "asymmetric", "floor", -0.75, false);
        return Interpolate(x, scales, null, null, settings, 0, n);
    }

    private sealed record ResizeSettings(string Mode, string Coordinates, string Nearest, double CubicA, bool ExcludeOutside);

    /// <summary>Resizes each axis whose size or scale changes by its interpolation matrix; tf_crop_and_resize points outside the input get <paramref name="extrapolation"/>.</summary>
    private static Tensor Interpolate(Tensor x, double[]? scales, long[]? sizes, double[]? roi, ResizeSettings settings, double extrapolation, OnnxNode n)
    {
        int rank = x.Rank;
        bool integer = !x.IsFloatingPoint;
        var y = integer ? x.To(DType.Float64) : x;
        Tensor? outside = null;
        for (int axis = 0; axis < rank; axis++)
        {
            int input = x.ShapeArray[axis];
            int output = sizes is not null ? checked((int)sizes[axis]) : (int)Math.Floor(input * scales![axis]);
            double scale = scales is not null ? scales[axis] : (double)output / input;
            if (output < 0 || scale <= 0) throw new InvalidDataException($"ONNX {n.Describe}: axis {axis} of size {input} resized to {output} (scale {scale})");
            bool crop = settings.Coordinates == "tf_crop_and_resize";
            if (output == input && scale == 1 && !crop) continue;
            var (matrix, outsideAxis) = InterpolationMatrix(input, output, scale, crop ? (roi![axis], roi[axis + rank]) : (0, 1), settings);
            var weights = OnnxTensors.Make(matrix, [input, output]).To(y.DType);
            y = y.Transpose(axis, rank - 1).MatMul(weights).Transpose(axis, rank - 1);
            if (outsideAxis is not null)
            {
                var shape = Enumerable.Repeat(1, rank).ToArray();
                shape[axis] = output;
                var mask = OnnxTensors.Make(outsideAxis, shape);
                outside = outside is null ? mask : outside.LogicalOr(mask);
            }
        }
        if (outside is not null) y = Tensor.Where(outside, Tensor.Full([], extrapolation, y.DType), y);
        y = y.Contiguous();
        return integer ? Map(y, Math.Round).To(x.DType) : y;
    }

    /// <summary>
    /// The transposed interpolation matrix [input, output] of one axis and, for tf_crop_and_resize, which outputs
    /// fall outside the input. Output i maps to the input coordinate c; its neighbours are floor(c) - n/2 + 1 ..
    /// (c - 1 and c itself when c is whole, with weight ratio 1), clamped to the edge.
    /// </summary>
    private static (double[] Matrix, bool[]? Outside) InterpolationMatrix(int input, int output, double scale, (double Start, double End) roi, ResizeSettings s)
    {
        var matrix = new double[input * output];
        bool[]? outside = s.Coordinates == "tf_crop_and_resize" ? new bool[output] : null;
        int taps = s.Mode switch { "cubic" => 4, _ => 2 };
        var coeffs = new double[taps];
        double outputWidth = scale * input;
        for (int i = 0; i < output; i++)
        {
            double c = s.Coordinates switch
            {
                "align_corners" => outputWidth == 1 ? 0 : i * (input - 1) / (outputWidth - 1),
                "asymmetric" => i / scale,
                "pytorch_half_pixel" => output == 1 ? -0.5 : (i + 0.5) / scale - 0.5,
                "tf_half_pixel_for_nn" => (i + 0.5) / scale,
                "tf_crop_and_resize" => (roi.Start * (input - 1)) + (output == 1 ? (roi.End - roi.Start) * (input - 1) / 2.0
                    : i * (roi.End - roi.Start) * (input - 1) / (outputWidth - 1)),
                _ => (i + 0.5) / scale - 0.5,
            };
            if (outside is not null && (c < 0 || c > input - 1))
            {
                outside[i] = true;
                continue;
            }
            double floor = Math.Floor(c);
            double ratio = c == floor ? 1 : c - floor;
            long left = c == floor ? (long)c - 1 : (long)floor; // the neighbour left of c when c is not whole
            long first = left - (taps / 2 - 1);
            Coefficients(ratio, s, coeffs);
            if (s.ExcludeOutside)
            {
                double total = 0;
                for (int t = 0; t < taps; t++)
                {
                    if (first + t < 0 || first + t >= input) coeffs[t] = 0;
                    total += coeffs[t];
                }
                for (int t = 0; t < taps; t++) coeffs[t] /= total;
            }
            for (int t = 0; t < taps; t++)
            {
                long j = Math.Clamp(first + t, 0, input - 1);
                matrix[j * output + i] += coeffs[t];
            }
        }
        return (matrix, outside);
    }

    /// <summary>The weights of the neighbours for a position <paramref name="ratio"/> (in (0, 1]) past the left one.</summary>
    private static void Coefficients(double ratio, ResizeSettings s, double[] coeffs)
    {
        switch (s.Mode)
        {
            case "linear":
                coeffs[0] = 1 - ratio;
                coeffs[1] = ratio;
                break;
            case "cubic":
                CubicWeights(ratio, s.CubicA).CopyTo(coeffs, 0);
                break;
            default:
            {
                bool right = ratio == 1 || s.Nearest switch
                {
                    "round_prefer_ceil" => ratio >= 0.5,
                    "floor" => false,
                    "ceil" => true,
                    _ => ratio > 0.5,
                };
                coeffs[0] = right ? 0 : 1;
                coeffs[1] = right ? 1 : 0;
                break;
            }
        }
    }

    /// <summary>
    /// GridSample of X [N, C, H, W] at grid [N, Ho, Wo, 2] ((x, y) in [-1, 1]): each output is a weighted sum of up to
    /// 16 input pixels (IndexSelect and Mul, so differentiable in X). Coordinates, padding and the cubic weights
    /// (A = -0.75) follow the operator's definition (that of PyTorch's grid_sample).
    /// </summary>
    private static Tensor GridSample(OnnxNode n)
    {
        var x = n.Input(0);
        var gridT = n.Input(1);
        if (x.Rank != 4 || gridT.Rank != 4 || gridT.ShapeArray[3] != 2 || gridT.ShapeArray[0] != x.ShapeArray[0])
            throw new InvalidDataException($"ONNX {n.Describe}: input {Shapes.Format(x.ShapeArray)} and grid {Shapes.Format(gridT.ShapeArray)} are not [N, C, H, W] and [N, Ho, Wo, 2]");
        string mode = n.String("mode", "bilinear"), padding = n.String("padding_mode", "zeros");
        bool alignCorners = n.Int("align_corners", 0) != 0;
        int batch = x.ShapeArray[0], channels = x.ShapeArray[1], height = x.ShapeArray[2], width = x.ShapeArray[3];
        int outH = gridT.ShapeArray[1], outW = gridT.ShapeArray[2], points = outH * outW;
        int taps = mode switch { "bicubic" => 16, "bilinear" => 4, _ => 1 };
        var grid = gridT.To(DType.Float64).Contiguous().ToArray<double>();
        double Unnormalize(double g, int size) => alignCorners ? (g + 1) / 2 * (size - 1) : ((g + 1) * size - 1) / 2;
        double Reflect(double v, double twiceLow, double twiceHigh)
        {
            if (twiceLow == twiceHigh) return 0;
            double min = twiceLow / 2, span = (twiceHigh - twiceLow) / 2;
            v = Math.Abs(v - min);
            double extra = v % span;
            return Math.Floor(v / span) % 2 == 0 ? extra + min : span - extra + min;
        }
        double Pad(double v, int size) => padding switch
        {
            "border" => Math.Clamp(v, 0, size - 1),
            "reflection" => Math.Clamp(alignCorners ? Reflect(v, 0, 2 * (size - 1)) : Reflect(v, -1, 2 * size - 1), 0, size - 1),
            _ => v,
        };
        var parts = new Tensor[batch];
        var index = new long[points * taps];
        var weight = new double[points * taps];
        for (int b = 0; b < batch; b++)
        {
            Array.Clear(index);
            Array.Clear(weight);
            for (int p = 0; p < points; p++)
            {
                double gx = Unnormalize(grid[(b * points + p) * 2], width), gy = Unnormalize(grid[(b * points + p) * 2 + 1], height);
                int at = p * taps;
                void Tap(int k, double row, double col, double w)
                {
                    if (mode == "bicubic") { row = Pad(row, height); col = Pad(col, width); }
                    if (row < 0 || row > height - 1 || col < 0 || col > width - 1 || w == 0) return; // zero padding
                    index[at + k] = (long)row * width + (long)col;
                    weight[at + k] = w;
                }
                if (mode == "bicubic")
                {
                    double fx = Math.Floor(gx), fy = Math.Floor(gy);
                    var wx = CubicWeights(gx - fx, -0.75);
                    var wy = CubicWeights(gy - fy, -0.75);
                    for (int i = 0; i < 4; i++)
                        for (int j = 0; j < 4; j++) Tap(i * 4 + j, fy - 1 + i, fx - 1 + j, wy[i] * wx[j]);
                    continue;
                }
                gx = Pad(gx, width);
                gy = Pad(gy, height);
                if (mode == "nearest")
                {
                    Tap(0, Math.Round(gy, MidpointRounding.ToEven), Math.Round(gx, MidpointRounding.ToEven), 1);
                    continue;
                }
                double x0 = Math.Floor(gx), y0 = Math.Floor(gy), dx = gx - x0, dy = gy - y0;
                Tap(0, y0, x0, (1 - dy) * (1 - dx));
                Tap(1, y0, x0 + 1, (1 - dy) * dx);
                Tap(2, y0 + 1, x0, dy * (1 - dx));
                Tap(3, y0 + 1, x0 + 1, dy * dx);
            }
            var image = x.Select(0, b).Reshape(channels, height * width);
            var picked = image.IndexSelect(1, Tensor.From(index, index.Length)) * Tensor.From(weight, weight.Length).To(x.DType);
            parts[b] = picked.Reshape(channels, points, taps).Sum(2).Reshape(channels, outH, outW);
        }
        return Tensor.Stack(parts, 0);
    }

    /// <summary>The four cubic convolution weights (coefficient a) of the taps at -1, 0, 1, 2 from a position t in [0, 1] past tap 0.</summary>
    private static double[] CubicWeights(double t, double a)
    {
        double Near(double d) => ((a + 2) * d - (a + 3)) * d * d + 1;
        double Far(double d) => ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
        return [Far(t + 1), Near(t), Near(1 - t), Far(2 - t)];
    }
}
