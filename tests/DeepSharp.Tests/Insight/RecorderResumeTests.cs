using DeepSharp.Insight;
using DeepSharp.Tests.Training;

namespace DeepSharp.Tests.Insight;

/// <summary>A resumed run's recorder continues the earlier log, so a report covers the whole run.</summary>
[Collection("WorkerPool")]
public sealed class RecorderResumeTests
{
    [Fact]
    public void ARecorderContinuingTheEarlierLogMatchesAnUninterruptedRun()
    {
        var data = ResumeAndInterruptTests.Data(96); // 6 batches per epoch
        var (straight, _, straightLoader) = ResumeAndInterruptTests.Setup(data, 3);
        var whole = new InsightRecorder(new InsightOptions { Every = 4 });
        straight.Fit(straightLoader, epochs: 3, callbacks: [whole]);

        using var dir = new Serialization.TempDir();
        var (first, _, firstLoader) = ResumeAndInterruptTests.Setup(data, 3);
        var before = new InsightRecorder(new InsightOptions { Every = 4, LogPath = dir.File("insight.json") });
        first.Fit(firstLoader, epochs: 1, callbacks: [before]);
        first.SaveCheckpoint(dir.File("epoch1.safetensors"));
        first.Fit(firstLoader, epochs: 2, callbacks: [before]); // the log goes on past the checkpoint we resume from

        var (resumed, _, resumedLoader) = ResumeAndInterruptTests.Setup(data, 3);
        resumed.LoadCheckpoint(dir.File("epoch1.safetensors"));
        var after = new InsightRecorder(new InsightOptions { Every = 4 }, InsightLog.Load(dir.File("insight.json")));
        resumed.Fit(resumedLoader, epochs: 3, callbacks: [after]);

        Assert.Equal(whole.Log.FirstStep, after.Log.FirstStep);
        Assert.Equal(whole.Log.BatchLosses, after.Log.BatchLosses);
        Assert.Equal(whole.Log.Lrs, after.Log.Lrs);
        Assert.Equal(whole.Log.EpochEnds, after.Log.EpochEnds);
        Assert.Equal(whole.Log.Steps.Select(s => s.Step), after.Log.Steps.Select(s => s.Step));
        Assert.Equal(whole.Log.Steps.Select(s => s.Loss), after.Log.Steps.Select(s => s.Loss));
    }
}
