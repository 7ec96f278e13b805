using System.Security.Cryptography;
using DeepSharp.Serialization;

namespace DeepSharp.Data;

/// <summary>
/// Downloads a dataset file to a temp file next to its destination, checks its size and SHA-256,
/// and only then moves it into place: a failed or tampered download never leaves a file behind.
/// </summary>
internal static class Downloader
{
    private static readonly HttpClient s_client = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15) })
    {
        Timeout = TimeSpan.FromMinutes(10),
    };

    /// <summary>Tries each mirror in turn; throws an IOException listing every failure.</summary>
    public static void Fetch(string[] mirrors, DataFile file, string destination)
    {
        var errors = new List<string>();
        foreach (var mirror in mirrors)
        {
            string url = mirror + file.Name;
            try
            {
                FetchOne(url, file, destination);
                return;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or InvalidDataException or TaskCanceledException)
            {
                errors.Add($"{url}: {e.Message}");
            }
        }
        throw new IOException($"could not download {file.Name} ({string.Join("; ", errors)})");
    }

    private static void FetchOne(string url, DataFile file, string destination)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        using var response = s_client.Send(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentLength is long announced && announced > file.MaxSize)
            throw new InvalidDataException($"the server announces {announced} bytes, more than the {file.MaxSize} of the genuine file");
        using var body = response.Content.ReadAsStream();
        using var writer = AtomicFile.Open(destination);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = body.Read(buffer)) > 0)
        {
            total += n;
            if (total > file.MaxSize) throw new InvalidDataException($"the download exceeds the {file.MaxSize} bytes of the genuine file");
            sha.AppendData(buffer, 0, n);
            writer.Stream.Write(buffer, 0, n);
        }
        string digest = Convert.ToHexStringLower(sha.GetHashAndReset());
        if (!file.Sha256.Contains(digest))
            throw new InvalidDataException($"SHA-256 mismatch: got {digest}, expected {string.Join(" or ", file.Sha256)}");
        writer.Commit();
    }
}
