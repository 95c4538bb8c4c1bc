"""The slash commands and menus, one cog a file: ask, check (the message menu, which answers as ask does),
compare, help, privacy, and moderation (/dossier), with adding (what /dossier add does with a link, an HTML page or a
PDF) beside it. They may import everything of bot and index; bot.client loads them, and nothing below imports them."""
