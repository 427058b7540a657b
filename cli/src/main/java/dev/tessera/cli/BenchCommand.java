package dev.tessera.cli;

import dev.tessera.bench.DetectBench;
import dev.tessera.bench.GatewayBench;
import dev.tessera.bench.VlmBench;
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
            "  detect     detection streams: cross-stream micro-batching vs one frame per step, and overload",
            "  diffuse    diffusion: step-level batching of denoising jobs vs one job at a time, preview cost",
            "  vlm        vision-language: packed vs padded vision encoding, encoder-cache TTFT, continuous vs sequential",
            "  overload   10x capacity: refusal latency, accepted TTFT, exact waiting bound, stall beside 4 MB prompts",
            "  roofline   memory bandwidth and matmul peaks, then decode at fp32/int8/int4 against them (MBU, MFU)",
            "Options after the name go to the benchmark, e.g. 'bench gateway --json --clients 8'; "
                + "'bench NAME --help' lists them."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "generate, attention, gateway, detect, diffuse, vlm, overload or roofline")
    String name;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "Options of the benchmark.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        String[] rest = args.toArray(String[]::new);
        boolean help = args.contains("--help") || args.contains("-h");
        try {
            switch (name) {
                case "generate" -> {
                    if (help) {
                        System.out.println(GENERATE_HELP);
                        return 0;
                    }
                    dev.tessera.bench.GenerateBench.main(rest);
                }
                case "attention" -> {
                    if (help) {
                        System.out.println(ATTENTION_HELP);
                        return 0;
                    }
                    dev.tessera.bench.AttentionBench.main(rest);
                }
                case "gateway" -> {
                    return GatewayBench.run(rest);
                }
                case "detect" -> {
                    return DetectBench.run(rest);
                }
                case "diffuse" -> {
                    return dev.tessera.bench.DiffuseBench.run(rest);
                }
                case "vlm" -> {
                    return VlmBench.run(rest);
                }
                case "overload" -> {
                    return dev.tessera.bench.OverloadBench.run(rest);
                }
                case "roofline" -> {
                    if (help) {
                        System.out.println(ROOFLINE_HELP);
                        return 0;
                    }
                    dev.tessera.bench.RooflineBench.main(rest);
                }
                default -> {
                    System.err.println("unknown benchmark '" + name + "': use generate, attention, gateway, detect, diffuse, vlm, overload or "
                            + "roofline");
                    return 2;
                }
            }
        } catch (IllegalArgumentException e) {
            System.err.println("bench " + name + ": " + e.getMessage() + " (see 'bench " + name + " --help')");
            return 2;
        }
        return 0;
    }

    private static final String GENERATE_HELP = String.join(System.lineSeparator(),
            "Usage: engine bench generate [--json] [--requests N] [--prompt MIN:MAX] [--output MIN:MAX] [--seed S]",
            "                             [--model M] [--threads T] [--max-batch-tokens B] [--max-seqs S]",
            "                             [--kv-mib M] [--policies a,b,c] [--prefix-len L] [--trials K]",
            "One seeded workload under continuous, static and sequential batching in one process, plus a",
            "prefix-cache TTFT ratio. Progress on stderr; with --json the last stdout line is a JSON object.",
            "Defaults: 48 requests, prompts 32:512, outputs 16:128, seed 42, model builtin:bench.");

    private static final String ATTENTION_HELP = String.join(System.lineSeparator(),
            "Usage: engine bench attention [--json] [--quick] [--decode | --packed] [--fp32-only]",
            "                              | --unet [--rows 1,2] [--json]",
            "The Java paged attention kernel vs ONNX Runtime's GroupQueryAttention on decode shapes (over fp32,",
            "bf16 and fp16 KV caches; ORT's fp16 kernel for the 16-bit ones), and the packed bidirectional",
            "kernel vs ONNX Runtime, side by side in one run; prints the vector species. --quick runs small",
            "shapes only; --decode / --packed one section; --fp32-only skips the 16-bit caches. With --json the",
            "last stdout line is a JSON object.",
            "--unet: SD 1.5's UNet attention shapes (4096x8x40, 1024x8x80, 256x8x160, 4096->77 cross) at each",
            "row count: in-graph MatMul/Softmax vs ORT MultiHeadAttention vs the Java packed kernel, time and peak",
            "memory.");

    private static final String ROOFLINE_HELP = String.join(System.lineSeparator(),
            "Usage: engine bench roofline [--json] [--model M] [--precisions fp32,int8,int4] [--prompt 128]",
            "       [--output 128] [--streams 32] [--threads T] [--buffer-mib 512]",
            "Measures memory bandwidth (a streaming read far larger than the caches) and ORT matmul peaks (fp32,",
            "MatMulNBits int8 and int4), then decodes the model (builtin:bench) at each weight precision: one",
            "stream (inter-token latency, MBU = bytes read per token / bandwidth) and 32 streams (tokens/s, MFU).");
}
