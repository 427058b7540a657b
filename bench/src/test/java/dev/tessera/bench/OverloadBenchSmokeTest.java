package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The overload benchmark stays runnable: a short run on builtin:tiny (server in this process, a fixed number of
 * requests) prints the documented JSON, and every request sent is counted once.
 */
@Timeout(300)
class OverloadBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheDocumentedFields() throws Exception {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            exit = OverloadBench.run("--json", "--in-process", "--requests", "40", "--factor", "4",
                    "--max-tokens", "4", "--canary-tokens", "48", "--threads", "2", "--senders", "2",
                    "--channels", "2", "--warmup-seconds", "1", "--storm-warm-prompts", "5", "--stall-warmup-passes", "2",
                    "--stall-runs", "2");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, exit);
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        for (String field : new String[] {"capacity_rps", "offered_rps", "sent", "accepted", "rejected",
            "reject_ms", "client_send_ms", "probe_reject_ms", "accepted_ttft_ms", "waiting_peak", "max_waiting", "stall",
            "rss_mb", "reject_p99_ms_by_second", "warmup"}) {
            assertTrue(json.has(field), field + " in " + json);
        }
        assertEquals(40, json.get("sent").asLong(), json.toString());
        assertEquals(40, json.get("accepted").asLong() + json.get("rejected").asLong()
                + json.get("other_errors").asLong(), "every request is counted once: " + json);
        // alone and beside the storm, two runs each; each figure is the largest of its runs' gaps
        JsonNode stall = json.get("stall");
        assertEquals(2, stall.get("runs").asInt(), json.toString());
        // how much of each largest gap this client's own collections took: none can be longer than the gap
        for (String kind : new String[] {"solo", "storm"}) {
            JsonNode gc = stall.get(kind + "_runs_client_gc_in_max_gap_ms");
            JsonNode gaps = stall.get(kind + "_runs_max_gap_ms");
            assertEquals(2, gc.size(), json.toString());
            for (int i = 0; i < 2; i++) {
                assertTrue(gc.get(i).asDouble() >= 0 && gc.get(i).asDouble() <= gaps.get(i).asDouble(), json.toString());
            }
        }
        assertEquals(largest(stall.get("storm_runs_max_gap_ms"), 2), stall.get("canary_max_gap_ms").asDouble(), 1e-9);
        assertEquals(largest(stall.get("solo_runs_max_gap_ms"), 2), stall.get("canary_solo_max_gap_ms").asDouble(),
                1e-9);
        assertTrue(json.get("stall").get("one_at_a_time").get("huge_prompts_refused_beside").asLong() > 0,
                json.toString());
        // the storm process (the headline, at nice 19) had 5 prompts refused before the canaries began, or the run
        // had failed; the same storm from a thread of the bench's JVM is reported apart, run by run
        assertEquals(19, stall.get("storm_nice").asInt(), json.toString());
        JsonNode thread = stall.get("storm_thread");
        assertEquals(2, thread.get("runs_max_gap_ms").size(), json.toString());
        assertEquals(largest(thread.get("runs_max_gap_ms"), 2), thread.get("canary_max_gap_ms").asDouble(), 1e-9);
        assertTrue(thread.get("huge_prompts_refused_beside").asLong() > 0, json.toString());
        // both JVMs' compiler time in each measured run
        assertEquals(2, stall.get("storm_runs_jit_ms").get("server").size(), json.toString());
        assertEquals(2, stall.get("solo_runs_jit_ms").get("client").size(), json.toString());
        // the first canary beside the storm, before the measured ones, is reported apart
        assertTrue(json.get("stall").get("cold").has("canary_max_gap_ms"), json.toString());
        int passes = json.get("stall").get("warmup").get("passes").asInt();
        assertTrue(passes >= 1 && passes <= 2, "the stall warm-up stops at --stall-warmup-passes: " + json);
        assertEquals(1, json.get("warmup").get("rounds").asInt(), "a 1 s warm-up is one round: " + json);
        assertTrue(json.get("rss_mb").get("after_run").asLong() > 0, json.toString());
        // where the time went: Linux's scheduler statistics of the server's event loops and of its decode loop
        if (java.nio.file.Files.exists(java.nio.file.Path.of("/proc/self/task"))) {
            JsonNode loops = json.get("cpu_during_load").get("server_event_loops");
            assertTrue(loops.get("threads").asInt() > 0 && loops.get("cpu_ms").asLong() > 0, json.toString());
            assertEquals(1, json.get("stall").get("decode_loop_beside").get("threads").asInt(), json.toString());
        }
        // the server's own high-water mark: the queue filled (4x capacity offered) and never passed its bound
        int peak = json.get("waiting_peak").asInt();
        assertTrue(peak > 0 && peak <= json.get("max_waiting").asInt(), json.toString());
    }

    /** The largest of an array of {@code n} positive gaps. */
    private static double largest(JsonNode gaps, int n) {
        assertEquals(n, gaps.size(), gaps.toString());
        double max = 0;
        for (JsonNode g : gaps) {
            assertTrue(g.asDouble() > 0, gaps.toString());
            max = Math.max(max, g.asDouble());
        }
        return max;
    }
}
