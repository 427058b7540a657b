package dev.tessera.loadtest.measure;

/**
 * What one request measured. Times in milliseconds; NaN where not defined (no token: no TTFT; one token: no TPOT).
 *
 * @param index        the request's number in its run
 * @param sentNanos    when it was sent (on the run's {@link TraceClock})
 * @param ttftMs       time to first token: sent to the first chunk with output
 * @param tpotMs       time per output token after the first: (last chunk - first chunk) / (tokens - 1)
 * @param itlMs        inter-token latencies: the gaps between successive chunks
 * @param e2elMs       end-to-end latency: sent to the end of the stream
 * @param inputLength  the nominal prompt length, -1 when unknown
 * @param outputTokens output tokens received (images for diffusion, answered frames for detection)
 * @param skipped      frames the server skipped (detection streams), 0 otherwise
 * @param status       {@code OK}, a gRPC status code name, or {@code HTTP <code>}
 * @param error        the error's description, empty when OK
 */
public record RequestRecord(int index, long sentNanos, double ttftMs, double tpotMs, double[] itlMs, double e2elMs,
                            int inputLength, int outputTokens, int skipped, String status, String error) {
    /** Whether the request succeeded. */
    public boolean ok() {
        return status.equals("OK");
    }

    /** One JSON object (a line of the raw JSONL); {@code startMs} is the send time relative to the run's start. */
    public String toJson(long runStartNanos) {
        StringBuilder b = new StringBuilder(128 + itlMs.length * 8);
        b.append("{\"index\":").append(index)
                .append(",\"start_ms\":").append(Json.number((sentNanos - runStartNanos) / 1e6))
                .append(",\"status\":").append(Json.string(status))
                .append(",\"ttft_ms\":").append(Json.number(ttftMs))
                .append(",\"tpot_ms\":").append(Json.number(tpotMs))
                .append(",\"e2el_ms\":").append(Json.number(e2elMs))
                .append(",\"input_length\":").append(inputLength)
                .append(",\"output_tokens\":").append(outputTokens)
                .append(",\"skipped\":").append(skipped)
                .append(",\"itl_ms\":[");
        for (int i = 0; i < itlMs.length; i++) {
            if (i > 0) b.append(',');
            b.append(Json.number(itlMs[i]));
        }
        b.append(']');
        if (!error.isEmpty()) b.append(",\"error\":").append(Json.string(error));
        return b.append('}').toString();
    }
}
