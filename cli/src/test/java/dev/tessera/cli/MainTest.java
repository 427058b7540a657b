package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line: help, config files under flags, sizes. */
class MainTest {

    @Test
    void helpOnEveryCommandSucceeds() {
        assertEquals(0, Main.execute("--help"));
        assertEquals(0, Main.execute("serve", "--help"));
        assertEquals(0, Main.execute("generate", "--help"));
        assertEquals(0, Main.execute("bench", "--help"));
        assertEquals(0, Main.execute("bench", "generate", "--help"));
        assertEquals(0, Main.execute("bench", "attention", "--help"));
        assertEquals(0, Main.execute("bench", "gateway", "--help"));
        assertEquals(2, Main.execute("bench", "nope"));
    }

    @Test
    void configFileSetsDefaultsAndFlagsWin(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tessera.properties");
        Files.writeString(config, "port=9000\nkv-memory=1GiB\nmodel=builtin:tiny\ngrace-period=5s\n"
                + "max-jobs-per-session=7\n");
        ServeCommand serve = new ServeCommand();
        CommandLine cli = new CommandLine(serve);
        cli.setDefaultValueProvider(new CommandLine.PropertiesDefaultProvider(config.toFile()));
        cli.parseArgs("--config", config.toString(), "--port", "9001");
        assertEquals(9001, serve.port);
        assertEquals(1L << 30, serve.kvMemory);
        assertEquals(List.of("builtin:tiny"), serve.models);
        assertEquals(Duration.ofSeconds(5), serve.gatewayOptions().gracePeriod());
        assertEquals(7, serve.gatewayOptions().maxJobsPerSession());
        assertEquals(1L << 30, serve.engineOptions(dir, "m").kvMemoryBytes());
        assertEquals(7, serve.gatewayOptions().maxJobsPerSession());
    }

    @Test
    void servesTheBuiltInTextModelAndDetectorByDefaultAndTakesSeveralModels() {
        ServeCommand serve = new ServeCommand();
        new CommandLine(serve).parseArgs();
        assertEquals(List.of("builtin:tiny", "builtin:detr-tiny"), serve.models);
        ServeCommand several = new ServeCommand();
        new CommandLine(several).parseArgs("--model", "/a", "--model", "/b,/c");
        assertEquals(List.of("/a", "/b", "/c"), several.models);
    }

    @Test
    void sizesParse() {
        assertEquals(512L << 20, ByteSize.parse("512MiB"));
        assertEquals(2L << 30, ByteSize.parse("2g"));
        assertEquals(65536, ByteSize.parse("65536"));
        assertThrows(CommandLine.TypeConversionException.class, () -> ByteSize.parse("lots"));
    }
}
