// SPDX-License-Identifier: BSD-2-Clause
#include "help_format.h"

#include <sstream>

namespace mkdp::cli {

namespace {

// CLI11 describes an option's type and validators in one string:
// "UINT:UINT in [1 - 16]", "TEXT:{native,skb}", "TEXT:FILE".
std::pair<std::string, std::string> split_type(const CLI::Option *o)
{
	std::string t = o->get_type_name();
	auto colon = t.find(':');
	if (colon == std::string::npos)
		return {t, ""};
	return {t.substr(0, colon), t.substr(colon + 1)};
}

// "1.000000" -> "1", "0.050000" -> "0.05"
std::string trim_number(std::string x)
{
	if (x.find('.') != std::string::npos && x.find_first_not_of("0123456789.-") == std::string::npos) {
		x.erase(x.find_last_not_of('0') + 1);
		if (!x.empty() && x.back() == '.')
			x.pop_back();
	}
	return x;
}

} // namespace

bool is_flag(const CLI::Option *o)
{
	return o->get_expected_max() == 0;
}

namespace {

class Formatter : public CLI::Formatter {
public:
	Formatter()
	{
		column_width(30);
		label("Positionals", "Arguments");
		label("Subcommands", "Commands");
		label("SUBCOMMAND", "COMMAND");
		label("SUBCOMMANDS", "COMMANDS");
	}

	std::string make_option_name(const CLI::Option *o, bool positional) const override
	{
		// Long options line up after the short ones, as in xdp-loader.
		std::string n = option_names(o);
		return positional || n.rfind("--", 0) != 0 ? n : "    " + n;
	}

	std::string make_option_opts(const CLI::Option *o) const override
	{
		std::string m = option_metavar(o);
		return m.empty() ? "" : " " + m;
	}

	std::string make_option_desc(const CLI::Option *o) const override
	{
		std::string f = option_facts(o);
		return o->get_description() + (f.empty() ? "" : " " + f);
	}

	// CLI11 heads the list with the commands' group name; here they are
	// "Commands", and each shows the first line of its description (the
	// rest is in its own --help).
	std::string make_subcommands(const CLI::App *app, CLI::AppFormatMode mode) const override
	{
		std::string s = CLI::Formatter::make_subcommands(app, mode);
		if (auto at = s.find("\nSubcommands:\n"); at != std::string::npos)
			s.replace(at, 14, "\nCommands:\n");
		return s;
	}

	std::string make_subcommand(const CLI::App *sub) const override
	{
		std::stringstream out;
		std::string d = sub->get_description();
		CLI::detail::format_help(out, sub->get_display_name(true), d.substr(0, d.find('\n')), column_width_);
		return out.str();
	}

	std::string make_option_usage(const CLI::Option *o) const override
	{
		std::string n = o->get_name(true, false);
		return o->get_required() ? n : "[" + n + "]";
	}
};

} // namespace

std::shared_ptr<CLI::Formatter> help_formatter()
{
	return std::make_shared<Formatter>();
}

std::vector<std::string> option_choices(const CLI::Option *o)
{
	auto [base, rest] = split_type(o);
	std::vector<std::string> v;
	if (rest.size() < 2 || rest.front() != '{' || rest.back() != '}')
		return v;
	std::stringstream in(rest.substr(1, rest.size() - 2));
	for (std::string s; std::getline(in, s, ',');)
		v.push_back(s);
	return v;
}

std::string option_metavar(const CLI::Option *o)
{
	if (is_flag(o) || (o->get_positional() && o->get_lnames().empty() && o->get_snames().empty()))
		return "";
	if (std::vector<std::string> c = option_choices(o); !c.empty()) {
		std::string m;
		for (const std::string &s : c)
			m += (m.empty() ? "" : "|") + s;
		return "<" + m + ">";
	}
	auto [base, rest] = split_type(o);
	std::string name = o->get_lnames().empty() ? o->get_snames().front() : o->get_lnames().front();
	if (base == "INT" || base == "UINT")
		name = "n";
	else if (base == "FLOAT")
		name = "x";
	return "<" + name + ">" + (o->get_expected_max() > 1 ? "..." : "");
}

std::string option_facts(const CLI::Option *o)
{
	std::vector<std::string> f;
	auto [base, rest] = split_type(o);
	// "UINT in [1 - 16]" -> "1..16"
	if (auto in = rest.find(" in ["), dash = rest.find(" - ", in), end = rest.find(']', dash);
	    in != std::string::npos && dash != std::string::npos && end != std::string::npos)
		f.push_back(trim_number(rest.substr(in + 5, dash - in - 5)) + ".." +
			    trim_number(rest.substr(dash + 3, end - dash - 3)));
	if (!is_flag(o) && !o->get_default_str().empty())
		f.push_back("default: " + trim_number(o->get_default_str()));
	if (o->get_required() && !o->get_positional())
		f.push_back("required");
	for (const CLI::Option *x : o->get_excludes())
		f.push_back("not with " + x->get_name());
	std::string s;
	for (const std::string &x : f)
		s += (s.empty() ? "" : ", ") + x;
	return s.empty() ? s : "[" + s + "]";
}

std::string option_names(const CLI::Option *o)
{
	if (o->get_snames().empty() && o->get_lnames().empty())
		return o->get_name();	// a positional: IFACE
	std::string n;
	for (const std::string &s : o->get_snames())
		n += (n.empty() ? "-" : ", -") + s;
	for (const std::string &l : o->get_lnames())
		n += (n.empty() ? "--" : ", --") + l;
	return n;
}

std::vector<const CLI::App *> visible_commands(const CLI::App *app)
{
	std::vector<const CLI::App *> v;
	for (const CLI::App *s : app->get_subcommands([](const CLI::App *) { return true; }))
		if (!s->get_group().empty())
			v.push_back(s);
	return v;
}

std::string command_path(const CLI::App *app)
{
	std::string p = app->get_name();
	for (const CLI::App *a = app->get_parent(); a; a = a->get_parent())
		p = a->get_name() + " " + p;
	return p;
}

} // namespace mkdp::cli
