"""`python -m bot`'s commands, each a function bot/__main__.py dispatches to.

parser builds the command line (its help, its checks); answering is `ask` and `compare`, in the terminal;
log_commands is `gaps`, `stats` and `log …`, over the question log; serving runs the bot and asks it how it is
(`health`). It imports bot.questionlog, bot.repl, bot.text and index, and bot.render, bot.client and bot.health only
inside the commands that need Discord, never the cogs.
"""
