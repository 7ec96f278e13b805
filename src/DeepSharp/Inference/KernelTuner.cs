namespace DeepSharp.Inference;

/// <summary>
/// Chooses between two plans of one model that differ in their convolution kernels by timing both whole plans on this
/// machine at the largest batch (or fewer samples when a run would be long, as for the threading choices), alternating
/// them, every step on the worker pool (before the threading choices, which are then measured for the chosen plan
/// alone). The first plan (the channel-blocked kernel's) is kept unless the second is at least 3 % faster.
/// </summary>
internal static class KernelTuner
{
    private const double Margin = 0.97;

    public static InferenceModel Faster(InferenceModel first, InferenceModel second)
    {
        var (input, output) = first.TimingBuffers(); // the plans share their input and output shapes
        int batch = ThreadingTuner.ComparisonBatch(b => first.TimeExecute(b, false, input, output), Math.Max(first.InputShape[0], 1));
        var (firstUs, secondUs) = ThreadingTuner.MeasurePlan((b, useSecond) => (useSecond ? second : first).TimeExecute(b, false, input, output), batch);
        return secondUs < Margin * firstUs ? second : first;
    }
}
