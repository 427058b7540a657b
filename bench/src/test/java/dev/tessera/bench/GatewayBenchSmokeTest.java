package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The gateway benchmark stays runnable: a very small workload on the tiny model prints every path's figures. */
class GatewayBenchSmokeTest {
    @Test
    void printsOneJsonObjectWithTheGrpcAndHttpFigures() {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = GatewayBench.run("--json", "--model", "builtin:tiny", "--clients", "2", "--requests", "2",
                    "--max-tokens", "4", "--rounds", "1", "--kv-memory", "32MiB", "--threads", "1",
                    "--skip-startup");
        } finally {
            System.setOut(saved);
        }
        assertEquals(0, code);
        String[] lines = buf.toString(StandardCharsets.UTF_8).trim().split("\n");
        String json = lines[lines.length - 1];
        for (String field : new String[] {"\"gateway_tokens_per_s\":", "\"inprocess_tokens_per_s\":", "\"ratio\":",
            "\"http_tokens_per_s\":", "\"http_ratio\":", "\"http_errors\":0,", "\"gateway_errors\":0,"}) {
            assertTrue(json.contains(field), field + " in " + json);
        }
        assertTrue(json.startsWith("{") && json.endsWith("}"));
    }
}
