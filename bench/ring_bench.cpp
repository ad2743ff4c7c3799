// placeholder: replaced by the ring benchmark
#include "bench.h"
#include <mkdp/error.h>
namespace mkdp::bench {
void register_ring(CLI::App &bench)
{
	bench.add_subcommand("ring", "ring benchmark")->callback([] { throw mkdp::Error("not built yet"); });
}
}
