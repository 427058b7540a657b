package dev.tessera.loadtest.measure;

/**
 * What a job kind's measures are called. The measurement path is the same for every kind (first output, gaps
 * between outputs, per-output time, end); a text job's outputs are tokens, a diffusion job's are previews then
 * images, so its "TTFT" is the time to first preview and its end-to-end latency the image latency; a detection
 * stream's outputs are answered frames, and in place of the gaps it records each frame's latency.
 */
public record OutputNames(String first, String perOutput, String gap, String end, String outputs, String throughput,
                          String perUser) {
    /** Text generation: tokens. */
    public static final OutputNames TEXT = new OutputNames("TTFT", "TPOT", "ITL", "E2E", "Output tokens",
            "Output token throughput (tok/s)", "Tokens/s per user (mean)");
    /** Diffusion: previews, then images. */
    public static final OutputNames DIFFUSION = new OutputNames("First preview", "Per image", "Preview gap",
            "Image latency", "Images", "Image throughput (img/s)", "Images/s per job (mean)");
    /** Detection streams: answered frames; the gaps are frame latencies (frame sent to its answer). */
    public static final OutputNames DETECTION = new OutputNames("First answer", "Answer gap", "Frame latency",
            "Stream", "Frames answered", "Frames answered/s", "Frames/s per stream (mean)");
}
