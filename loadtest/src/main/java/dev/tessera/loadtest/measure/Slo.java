package dev.tessera.loadtest.measure;

import java.util.Locale;

/**
 * Latency objectives for goodput, in milliseconds (NaN: not set): a request is good when it succeeded and meets
 * every objective set (DistServe's definition, as vLLM's {@code --goodput}). A request with one output token has no
 * TPOT and meets a TPOT objective.
 */
public record Slo(double ttftMs, double tpotMs, double e2elMs) {
    /** No objective: goodput is not computed. */
    public static final Slo NONE = new Slo(Double.NaN, Double.NaN, Double.NaN);

    /** Parses {@code ttft:MS tpot:MS e2el:MS} items (any subset, any order). */
    public static Slo parse(Iterable<String> items) {
        double ttft = Double.NaN;
        double tpot = Double.NaN;
        double e2el = Double.NaN;
        for (String item : items) {
            String[] kv = item.split(":", 2);
            double ms;
            try {
                ms = kv.length == 2 ? Double.parseDouble(kv[1]) : Double.NaN;
            } catch (NumberFormatException e) {
                ms = Double.NaN;
            }
            if (!(ms > 0)) throw new IllegalArgumentException("a goodput SLO is NAME:MS with MS > 0, got '" + item + "'");
            switch (kv[0].toLowerCase(Locale.ROOT)) {
                case "ttft" -> ttft = ms;
                case "tpot" -> tpot = ms;
                case "e2el" -> e2el = ms;
                default -> throw new IllegalArgumentException("a goodput SLO names ttft, tpot or e2el, got '" + kv[0] + "'");
            }
        }
        return new Slo(ttft, tpot, e2el);
    }

    /** Whether any objective is set. */
    public boolean any() {
        return !Double.isNaN(ttftMs) || !Double.isNaN(tpotMs) || !Double.isNaN(e2elMs);
    }

    /** Whether {@code r} is good: it succeeded and meets every objective set. */
    public boolean met(RequestRecord r) {
        if (!r.ok()) return false;
        if (!Double.isNaN(ttftMs) && !(r.ttftMs() <= ttftMs)) return false;
        if (!Double.isNaN(tpotMs) && !Double.isNaN(r.tpotMs()) && r.tpotMs() > tpotMs) return false;
        return Double.isNaN(e2elMs) || r.e2elMs() <= e2elMs;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        if (!Double.isNaN(ttftMs)) b.append("ttft:").append(Json.number(ttftMs)).append(' ');
        if (!Double.isNaN(tpotMs)) b.append("tpot:").append(Json.number(tpotMs)).append(' ');
        if (!Double.isNaN(e2elMs)) b.append("e2el:").append(Json.number(e2elMs)).append(' ');
        return b.toString().trim();
    }
}
