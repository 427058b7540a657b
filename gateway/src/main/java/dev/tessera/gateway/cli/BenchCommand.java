package dev.tessera.gateway.cli;

import dev.tessera.gateway.bench.GatewayBench;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code bench}: runs one of the side-by-side benchmarks; each prints its figures, JSON last with --json. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Runs a benchmark. Each prints ratios measured side by side in one run; with --json the last "
            + "stdout line is a JSON object.",
            "  generate   continuous vs static vs sequential batching (scheduler)",
            "  attention  Java paged attention vs ORT GroupQueryAttention (engine)",
            "  gateway    gRPC through the gateway vs in-process, and serve startup time",
            "Options after the name go to the benchmark, e.g. 'bench gateway --json --clients 8'; "
                + "'bench NAME --help' lists them."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "generate, attention or gateway")
    String name;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "Options of the benchmark.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        String[] rest = args.toArray(String[]::new);
        switch (name) {
            case "generate" -> dev.tessera.scheduler.bench.GenerateBench.main(rest);
            case "attention" -> dev.tessera.engine.bench.AttentionBench.main(rest);
            case "gateway" -> {
                return GatewayBench.run(rest);
            }
            default -> {
                System.err.println("unknown benchmark '" + name + "': use generate, attention or gateway");
                return 2;
            }
        }
        return 0;
    }
}
