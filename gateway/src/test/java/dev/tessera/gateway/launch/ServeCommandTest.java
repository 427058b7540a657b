package dev.tessera.gateway.launch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code serve}'s options: config files under flags, several models, sizes, and the server's own launcher. */
class ServeCommandTest {

    @Test
    void configFileSetsDefaultsAndFlagsWin(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tessera.properties");
        Files.writeString(config, "port=9000\nkv-memory=1GiB\nmodel=/models/a\ngrace-period=5s\n"
                + "max-jobs-per-session=7\nmax-frames-per-step=4\n");
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        CommandLine cli = ServerMain.command(serve, "--config", config.toString(), "--port", "9001");
        cli.parseArgs("--config", config.toString(), "--port", "9001");
        assertEquals(9001, serve.port);
        assertEquals(1L << 30, serve.kvMemory);
        assertEquals(List.of("/models/a"), serve.models());
        assertEquals(Duration.ofSeconds(5), serve.gatewayOptions().gracePeriod());
        assertEquals(7, serve.gatewayOptions().maxJobsPerSession());
        assertEquals(4000, serve.gatewayOptions().warmupCalls(), "serve warms its request path by default");
        assertEquals(1L << 30, serve.engineOptions(dir, "m").kvMemoryBytes());
        assertEquals(4, serve.detectorSpec(dir, "d").lane().maxFramesPerStep());
    }

    @Test
    void severalModelsRepeatedOrCommaSeparated() {
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--model", "/a", "--model", "/b,/c");
        assertEquals(List.of("/a", "/b", "/c"), serve.models());
    }

    @Test
    void theServersOwnLauncherNeedsAModelAndRefusesBuiltIns(@TempDir Path cache) {
        ServeCommand none = new ServeCommand(ModelResolver.directories());
        new CommandLine(none).parseArgs();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, none::models);
        assertTrue(e.getMessage().contains("--model"), e.getMessage());
        ServeCommand builtin = new ServeCommand(ModelResolver.directories());
        new CommandLine(builtin).parseArgs("--model", "builtin:tiny", "--cache-dir", cache.toString());
        e = assertThrows(IllegalArgumentException.class, builtin::modelSpecs);
        assertTrue(e.getMessage().contains("bin/engine"), e.getMessage());
        assertEquals(1, ServerMain.run(new ServeCommand(ModelResolver.directories()), "serve", "--model",
                cache.resolve("missing").toString(), "--port", "0"), "a missing checkpoint is a clean failure");
    }

    @Test
    void quantizeReachesTheEngineOptionsAndBadValuesAreUsageErrors() {
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--quantize", "int4:128");
        assertEquals(new dev.tessera.engine.text.quant.WeightQuantization(4, 128, true),
                serve.engineOptions(Path.of("/m"), "m").quantization());
        ServeCommand plain = new ServeCommand(ModelResolver.directories());
        new CommandLine(plain).parseArgs();
        assertEquals(dev.tessera.engine.text.quant.WeightQuantization.NONE,
                plain.engineOptions(Path.of("/m"), "m").quantization());
        CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class,
                () -> new CommandLine(new ServeCommand(ModelResolver.directories())).parseArgs("--quantize", "int3"));
        assertTrue(e.getMessage().contains("int8"), e.getMessage());
    }

    @Test
    void kvDtypeReachesTheEngineOptionsAndBadValuesAreUsageErrors() {
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--kv-dtype", "bf16");
        assertEquals(dev.tessera.kvcache.KvDType.BF16, serve.engineOptions(Path.of("/m"), "m").kvDtype());
        ServeCommand int8 = new ServeCommand(ModelResolver.directories());
        new CommandLine(int8).parseArgs("--kv-dtype", "int8");
        assertEquals(dev.tessera.kvcache.KvDType.INT8, int8.engineOptions(Path.of("/m"), "m").kvDtype());
        ServeCommand plain = new ServeCommand(ModelResolver.directories());
        new CommandLine(plain).parseArgs();
        assertEquals(dev.tessera.kvcache.KvDType.FP32, plain.engineOptions(Path.of("/m"), "m").kvDtype());
        CommandLine.ParameterException e = assertThrows(CommandLine.ParameterException.class,
                () -> new CommandLine(new ServeCommand(ModelResolver.directories())).parseArgs("--kv-dtype", "fp8"));
        assertTrue(e.getMessage().contains("fp32, bf16, fp16, int8"), e.getMessage());
    }

    @Test
    void edgeOptions(@TempDir Path dir) throws Exception {
        Path keys = dir.resolve("keys");
        Files.writeString(keys, "# tenant:key\nalpha:alpha-0123456789abcdef\n");
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--api-keys", keys.toString(), "--metrics-need-key",
                "--allowed-origins", "https://a.example,https://b.example");
        var edge = serve.gatewayOptions().edge();
        assertEquals("alpha", edge.apiKeys().authenticate("Bearer alpha-0123456789abcdef").name());
        assertTrue(edge.metricsNeedKey());
        assertTrue(edge.origins().allows("https://b.example", "server:8080"));
        ServeCommand open = new ServeCommand(ModelResolver.directories());
        new CommandLine(open).parseArgs();
        if (System.getenv(ServeCommand.API_KEYS_ENV) == null) {
            assertEquals(null, open.gatewayOptions().edge().apiKeys());
        }
        assertTrue(!open.gatewayOptions().edge().origins().allows("https://b.example", "server:8080"));
        ServeCommand cold = new ServeCommand(ModelResolver.directories());
        new CommandLine(cold).parseArgs("--warmup-calls", "0");
        assertEquals(0, cold.gatewayOptions().warmupCalls());
    }

    @Test
    void theHeapMustHoldEveryKvCache(@TempDir Path dir) {
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--kv-memory", "512MiB");
        var text = new dev.tessera.gateway.ModelSpec.Text(serve.engineOptions(dir, "a"), serve.textConfig());
        serve.checkHeap(List.of(text), 1L << 30);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> serve.checkHeap(List.of(text, text), 1L << 30));
        assertTrue(e.getMessage().contains("at least 1216 MiB"), e.getMessage());
    }

    @Test
    void sizesParse() {
        assertEquals(512L << 20, ByteSize.parse("512MiB"));
        assertEquals(2L << 30, ByteSize.parse("2g"));
        assertEquals(65536, ByteSize.parse("65536"));
        assertThrows(CommandLine.TypeConversionException.class, () -> ByteSize.parse("lots"));
    }

    @Test
    void aDiffusersPipelineDirectoryIsServedAsADiffusionModelUnderItsName(@TempDir Path dir) throws Exception {
        Path sd = dir.resolve("my-sd");
        Files.createDirectories(sd);
        Files.writeString(sd.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}");
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--model", sd.toString(), "--threads", "3", "--cache-dir", dir.toString());
        dev.tessera.gateway.ModelSpec.Diffusion spec = (dev.tessera.gateway.ModelSpec.Diffusion) serve.modelSpecs()
                .get(0);
        assertEquals("my-sd", spec.engine().name());
        assertEquals(3, spec.engine().threads());
        assertEquals(dir, spec.engine().cacheDir());
    }

    @Test
    void controlNetIsAttachedToTheFirstDiffusionPipelineAndNeedsOne(@TempDir Path dir) throws Exception {
        Path sd = dir.resolve("my-sd");
        Files.createDirectories(sd);
        Files.writeString(sd.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}");
        Path cn = dir.resolve("my-controlnet");
        ServeCommand serve = new ServeCommand(ModelResolver.directories());
        new CommandLine(serve).parseArgs("--model", sd.toString(), "--model", sd.toString(), "--controlnet",
                cn.toString(), "--cache-dir", dir.toString());
        List<dev.tessera.gateway.ModelSpec> specs = serve.modelSpecs();
        assertEquals(cn, ((dev.tessera.gateway.ModelSpec.Diffusion) specs.get(0)).engine().controlNet());
        assertEquals(null, ((dev.tessera.gateway.ModelSpec.Diffusion) specs.get(1)).engine().controlNet());
        Path text = dir.resolve("llama");
        Files.createDirectories(text);
        Files.writeString(text.resolve("config.json"), "{\"architectures\": [\"LlamaForCausalLM\"]}");
        ServeCommand noPipeline = new ServeCommand(ModelResolver.directories());
        new CommandLine(noPipeline).parseArgs("--model", text.toString(), "--controlnet", cn.toString(),
                "--cache-dir", dir.toString());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, noPipeline::modelSpecs);
        assertTrue(e.getMessage().contains("--controlnet"), e.getMessage());
    }
}
