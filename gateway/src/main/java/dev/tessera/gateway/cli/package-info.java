/**
 * The command line: serve, generate (a streaming client) and bench.
 */
@NullMarked
package dev.tessera.gateway.cli;

import org.jspecify.annotations.NullMarked;
