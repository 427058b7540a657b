package dev.tessera.loadtest.measure;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The measures of one run at one load point.
 *
 * @param rate                offered request rate (requests/s); infinite for a fixed concurrency with no rate
 * @param burstiness          gamma shape of the arrivals (1: Poisson)
 * @param maxConcurrency      the cap on requests in flight, 0 for none
 * @param durationS           from the first send to the last end
 * @param completed           requests that succeeded
 * @param failed              requests that failed
 * @param errorsByStatus      failed requests by status
 * @param inputLength         sum of the nominal prompt lengths of the succeeded requests (-1 when unknown)
 * @param outputTokens        output tokens of the succeeded requests
 * @param skipped             frames skipped by the server in the succeeded requests (detection)
 * @param requestThroughput   completed / duration
 * @param outputThroughput    output tokens / duration (total tokens/s)
 * @param goodput             good requests / duration (NaN without SLOs)
 * @param tokensPerUser       mean of each succeeded request's decode rate, 1000 / TPOT (tokens/s one user sees)
 * @param ttft                time to first token (ms)
 * @param tpot                time per output token (ms)
 * @param itl                 inter-token latency (ms)
 * @param e2el                end-to-end latency (ms)
 */
public record RunSummary(double rate, double burstiness, int maxConcurrency, double durationS, int completed,
                         int failed, Map<String, Integer> errorsByStatus, long inputLength, long outputTokens,
                         long skipped, double requestThroughput, double outputThroughput, double goodput, double tokensPerUser,
                         LatencyStats ttft, LatencyStats tpot, LatencyStats itl, LatencyStats e2el) {
    public RunSummary {
        errorsByStatus = Map.copyOf(errorsByStatus);
    }

    /** Summarizes {@code records} of a run that lasted {@code durationS} seconds. */
    public static RunSummary of(double rate, double burstiness, int maxConcurrency, double durationS,
                                List<RequestRecord> records, Slo slo) {
        int completed = 0;
        int good = 0;
        long input = 0;
        boolean inputKnown = true;
        long output = 0;
        long skipped = 0;
        int itlCount = 0;
        Map<String, Integer> errors = new TreeMap<>();
        for (RequestRecord r : records) {
            if (!r.ok()) {
                errors.merge(r.status(), 1, Integer::sum);
                continue;
            }
            completed++;
            output += r.outputTokens();
            skipped += r.skipped();
            if (r.inputLength() < 0) inputKnown = false;
            input += r.inputLength();
            itlCount += r.itlMs().length;
            if (slo.met(r)) good++;
        }
        double[] ttft = new double[completed];
        double[] tpot = new double[completed];
        double[] e2el = new double[completed];
        double[] itl = new double[itlCount];
        double perUser = 0;
        int perUserCount = 0;
        int i = 0;
        int k = 0;
        for (RequestRecord r : records) {
            if (!r.ok()) continue;
            ttft[i] = r.ttftMs();
            tpot[i] = r.tpotMs();
            e2el[i] = r.e2elMs();
            i++;
            System.arraycopy(r.itlMs(), 0, itl, k, r.itlMs().length);
            k += r.itlMs().length;
            if (r.tpotMs() > 0) {
                perUser += 1000 / r.tpotMs();
                perUserCount++;
            }
        }
        double d = durationS > 0 ? durationS : Double.NaN;
        return new RunSummary(rate, burstiness, maxConcurrency, durationS, completed, records.size() - completed,
                errors, inputKnown ? input : -1, output, skipped, completed / d, output / d,
                slo.any() ? good / d : Double.NaN, perUserCount == 0 ? Double.NaN : perUser / perUserCount,
                LatencyStats.of(ttft), LatencyStats.of(tpot), LatencyStats.of(itl), LatencyStats.of(e2el));
    }

    /** One JSON object. */
    public String toJson() {
        StringBuilder errors = new StringBuilder("{");
        errorsByStatus.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            if (errors.length() > 1) errors.append(',');
            errors.append(Json.string(e.getKey())).append(':').append(e.getValue());
        });
        errors.append('}');
        return "{\"rate\":" + Json.number(rate) + ",\"burstiness\":" + Json.number(burstiness)
                + ",\"max_concurrency\":" + maxConcurrency + ",\"duration_s\":" + Json.number(durationS)
                + ",\"completed\":" + completed + ",\"failed\":" + failed + ",\"errors\":" + errors
                + ",\"total_input_length\":" + inputLength + ",\"total_output_tokens\":" + outputTokens
                + ",\"skipped\":" + skipped
                + ",\"request_throughput\":" + Json.number(requestThroughput)
                + ",\"output_throughput\":" + Json.number(outputThroughput)
                + ",\"goodput\":" + Json.number(goodput)
                + ",\"tokens_per_user\":" + Json.number(tokensPerUser)
                + ",\"ttft_ms\":" + ttft.toJson() + ",\"tpot_ms\":" + tpot.toJson() + ",\"itl_ms\":" + itl.toJson()
                + ",\"e2el_ms\":" + e2el.toJson() + "}";
    }
}
