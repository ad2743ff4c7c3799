// SPDX-License-Identifier: BSD-2-Clause
#include "cli_docs.h"

#include "help_format.h"

#include <mkdp/error.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "exit_status.h"

namespace mkdp::cli {

namespace {

// Text for roff: backslashes and hyphens escaped, and no line may start
// with a control character.
std::string roff(const std::string &s)
{
	std::string r;
	for (char c : s) {
		if (c == '\\')
			r += "\\e";
		else if (c == '-')
			r += "\\-";
		else
			r += c;
	}
	if (!r.empty() && (r[0] == '.' || r[0] == '\''))
		r = "\\&" + r;
	return r;
}

// A description as the help writes it: prose lines, and indented lines
// (examples, syntax) that must stay as they are.
void paragraphs(std::ostream &o, const std::string &text)
{
	std::stringstream in(text);
	bool verbatim = false;
	for (std::string line; std::getline(in, line);) {
		if (line == "Examples:" || line == "Example:") {
			if (verbatim)
				o << ".fi\n.RE\n";
			o << ".PP\n.B " << line << "\n";
			verbatim = false;
			continue;
		}
		if (line.rfind("Example: ", 0) == 0)	// one example on the line
			line = "  " + line.substr(9);
		bool indented = line.rfind("  ", 0) == 0;
		if (indented && !verbatim)
			o << ".PP\n.RS 4\n.nf\n";
		else if (!indented && verbatim)
			o << ".fi\n.RE\n.PP\n";
		verbatim = indented;
		o << roff(indented ? line.substr(2) : line) << "\n";
	}
	if (verbatim)
		o << ".fi\n.RE\n";
}

std::string usage(const CLI::App *c)
{
	std::string u = command_path(c);
	if (!c->get_options([](const CLI::Option *o) { return !o->get_positional(); }).empty())
		u += " [OPTIONS]";
	for (const CLI::Option *o : c->get_options([](const CLI::Option *o) { return o->get_positional(); }))
		u += o->get_required() ? " " + o->get_name() : " [" + o->get_name() + "]";
	if (!visible_commands(c).empty())
		u += " COMMAND";
	return u;
}

void options(std::ostream &o, const CLI::App *c)
{
	for (const CLI::Option *opt : c->get_options()) {
		if (opt->get_group().empty() || opt->get_name() == "--help")
			continue;
		std::string m = option_metavar(opt), f = option_facts(opt);
		o << ".TP\n.B " << roff(option_names(opt)) << (m.empty() ? "" : " " + roff(m)) << "\n";
		paragraphs(o, opt->get_description() + (f.empty() ? "" : " " + f));
	}
}

// One command and those under it, depth first, as .SS sections.
void commands(std::ostream &o, const CLI::App *c)
{
	for (const CLI::App *s : visible_commands(c)) {
		o << ".SS " << roff(usage(s)) << "\n";
		paragraphs(o, s->get_description());
		options(o, s);
		commands(o, s);
	}
}

std::string header(const std::string &name, const std::string &version, const std::string &date)
{
	std::string up = name;
	for (char &ch : up)
		ch = char(std::toupper(ch));
	return ".TH " + up + " 8 \"" + date + "\" \"mkdp " + version + "\" \"mkdp manual\"\n";
}

void see_also(std::ostream &o, const CLI::App &root, const std::string &self)
{
	o << ".SH SEE ALSO\n";
	std::string s = self == "mkdp" ? "" : ".BR mkdp (8),\n";
	for (const CLI::App *n : visible_commands(&root))
		if ("mkdp-" + n->get_name() != self)
			s += ".BR mkdp\\-" + roff(n->get_name()) + " (8),\n";
	o << s << ".BR bpftool (8),\n.BR xdp\\-loader (8),\n.BR ip (8)\n";
}

} // namespace

std::map<std::string, std::string> man_pages(const CLI::App &root, const std::string &version,
					     const std::string &date)
{
	std::map<std::string, std::string> pages;
	std::ostringstream top;
	top << header("mkdp", version, date) << ".SH NAME\nmkdp \\- an eBPF data plane for kernel partitions\n"
	    << ".SH SYNOPSIS\n.B mkdp\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n.SH DESCRIPTION\n";
	paragraphs(top, root.get_description());
	top << ".PP\nCommands are a noun, then a verb, as in\n.BR ip (8)\nand\n.BR bpftool (8).\n"
	    << "Every command that reports takes \\fB\\-j\\fR, \\fB\\-\\-json\\fR.\n.SH COMMANDS\n";
	for (const CLI::App *n : visible_commands(&root)) {
		top << ".TP\n.B mkdp " << roff(n->get_name()) << "\n";
		std::string d = n->get_description();
		top << roff(d.substr(0, d.find('\n'))) << " See\n.BR mkdp\\-" << roff(n->get_name()) << " (8).\n";
	}
	top << ".SH EXIT STATUS\n";
	for (const auto &[status, meaning] : kExitStatusText)
		top << ".TP\n.B " << status << "\n" << roff(meaning) << "\n";
	top << ".SH FILES\n.TP\n.I /run/mkdp/\nthe supervisor's control socket and state while partitions are up\n"
	    << ".TP\n.I /sys/fs/bpf/mkdp/NETNS/IFACE/\nthe pinned maps of the steering on an interface\n";
	see_also(top, root, "mkdp");
	pages["mkdp.8"] = top.str();

	for (const CLI::App *n : visible_commands(&root)) {
		std::string name = "mkdp-" + n->get_name();
		std::ostringstream p;
		std::string d = n->get_description();
		p << header(name, version, date) << ".SH NAME\n" << roff(name) << " \\- "
		  << roff(d.substr(0, d.find('\n'))) << "\n.SH SYNOPSIS\n";
		if (visible_commands(n).empty())
			p << ".B " << roff(usage(n)) << "\n";
		for (const CLI::App *s : visible_commands(n))
			p << ".B " << roff(usage(s)) << "\n.br\n";
		// NAME has the first line already.
		p << ".SH DESCRIPTION\n";
		paragraphs(p, d.find('\n') == std::string::npos ? d : d.substr(d.find('\n') + 1));
		if (visible_commands(n).empty()) {
			p << ".SH OPTIONS\n";
			options(p, n);
		} else {
			options(p, n);
			p << ".SH COMMANDS\n";
			commands(p, n);
		}
		p << ".SH EXIT STATUS\nAs every mkdp command: see\n.BR mkdp (8).\n";
		see_also(p, root, name);
		pages[name + ".8"] = p.str();
	}
	return pages;
}

std::string bash_completion(const CLI::App &root)
{
	// Three tables keyed by the command path ("mkdp steer attach"): its
	// commands, its options, and each option's values; the function
	// walks the words typed so far to the deepest command they name.
	std::ostringstream cmds, opts, vals, takes;
	auto walk = [&](auto &self, const CLI::App *c) -> void {
		std::string path = command_path(c), subs, os, tv;
		for (const CLI::App *s : visible_commands(c))
			subs += (subs.empty() ? "" : " ") + s->get_name();
		for (const CLI::Option *o : c->get_options()) {
			if (o->get_positional() || o->get_group().empty())
				continue;
			for (const std::string &n : o->get_snames())
				os += " -" + n;
			for (const std::string &n : o->get_lnames()) {
				os += " --" + n;
				if (!is_flag(o))
					tv += " --" + n;
				std::string v;
				for (const std::string &x : option_choices(o))
					v += (v.empty() ? "" : " ") + x;
				if (!v.empty())
					vals << "\t[\"" << path << " --" << n << "\"]=\"" << v << "\"\n";
			}
		}
		cmds << "\t[\"" << path << "\"]=\"" << subs << "\"\n";
		opts << "\t[\"" << path << "\"]=\"" << (os.empty() ? os : os.substr(1)) << "\"\n";
		takes << "\t[\"" << path << "\"]=\"" << tv << " \"\n";
		for (const CLI::App *s : visible_commands(c))
			self(self, s);
	};
	walk(walk, &root);
	std::ostringstream s;
	s << "# bash completion for mkdp (generated by 'mkdp completion bash')\n"
	  << "declare -gA _mkdp_cmds=(\n" << cmds.str() << ")\n"
	  << "declare -gA _mkdp_opts=(\n" << opts.str() << ")\n"
	  << "declare -gA _mkdp_vals=(\n" << vals.str() << ")\n"
	  << "declare -gA _mkdp_takes=(\n" << takes.str() << ")\n"
	  << R"SH(_mkdp() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path=mkdp i w
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ -n ${_mkdp_cmds["$path $w"]+x} ]] && path="$path $w"
	done
	if [[ $prev == -* && ${_mkdp_takes[$path]} == *" $prev "* ]]; then
		if [[ -n ${_mkdp_vals["$path $prev"]+x} ]]; then
			COMPREPLY=($(compgen -W "${_mkdp_vals["$path $prev"]}" -- "$cur"))
		elif [[ $prev == --netns ]]; then
			COMPREPLY=($(compgen -W "$(ip netns list 2>/dev/null | cut -d' ' -f1)" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "${_mkdp_opts[$path]}" -- "$cur"))
	elif [[ -n ${_mkdp_cmds[$path]} ]]; then
		COMPREPLY=($(compgen -W "${_mkdp_cmds[$path]}" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -F _mkdp mkdp
)SH";
	return s.str();
}

void register_docs(CLI::App &app)
{
	static std::string shell;
	CLI::App *c = app.add_subcommand(
		"completion", "Print a shell completion script for mkdp (bash).\n"
			      "Examples:\n"
			      "  source <(mkdp completion bash)\n"
			      "  mkdp completion bash > /usr/share/bash-completion/completions/mkdp");
	c->add_option("SHELL", shell, "the shell")->required()->check(CLI::IsMember({"bash"}));
	c->callback([&app] { std::cout << bash_completion(app); });

	static std::string dir, date;
	CLI::App *m = app.add_subcommand("man", "Write the man pages (mkdp.8, mkdp-NOUN.8) into DIR.");
	m->group("");	// `make` runs it; users read the pages
	m->add_option("--dir", dir, "where to write them")->required();
	m->add_option("--date", date, "the date the pages carry (default: today)");
	m->callback([&app] {
		if (date.empty()) {
			char buf[16];
			std::time_t t = std::time(nullptr);
			std::strftime(buf, sizeof(buf), "%Y-%m-%d", std::gmtime(&t));
			date = buf;
		}
		std::filesystem::create_directories(dir);
		for (const auto &[name, text] : man_pages(app, MKDP_VERSION, date)) {
			std::ofstream f(std::filesystem::path(dir) / name);
			f << text;
			if (!f)
				throw Error("man: cannot write " + dir + "/" + name);
		}
	});
}

} // namespace mkdp::cli
