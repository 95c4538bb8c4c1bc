"""Questions a Discord community asks that no article about Iran–Taliban ties answers.

The abstention bar is calibrated on them: a question must match the corpus better than these do. They span
general knowledge, chit-chat, and help with the site or the server, the kinds of off-topic and boilerplate
questions a bot hears. They are not the project's evaluation questions.
"""

BACKGROUND_QUESTIONS = (
    "What is the capital of Australia?",
    "How do I bake sourdough bread at home?",
    "Which laptop is best for programming?",
    "What time is it in Tokyo right now?",
    "How do I change my profile picture?",
    "Tell me a joke.",
    "Who is the most famous pop singer?",
    "How does photosynthesis work?",
    "What will the weather be like tomorrow?",
    "Can you recommend a good movie for tonight?",
    "How do I subscribe to the newsletter?",
    "Where can I share this page on social media?",
    "How do I print this page?",
    "How do I log in to my account?",
    "Who won the basketball championship last year?",
    "What is the best pizza topping?",
    "How do I learn to play the guitar?",
    "What is the speed of light?",
    "How do I mute a channel on this server?",
    "Can I get a moderator role?",
    "How do I install Python on Windows?",
    "What is a black hole?",
    "How many calories are in a banana?",
    "What are the rules of chess?",
    "How do I report a bug in the app?",
    "How do I contact the website's editors?",
    "Where is the privacy policy?",
    "How do I unsubscribe from notifications?",
    "What is the stock price of Apple today?",
    "How do I train my dog to sit?",
    "Which team won the last Olympic football final?",
    "What is the plot of Hamlet?",
    "How do I fix a flat bicycle tyre?",
    "What should I cook for dinner?",
    "How tall is Mount Everest?",
    "How do I reply to a post in this forum?",
    "Who painted the Mona Lisa?",
    "What is machine learning?",
    "How do I convert Celsius to Fahrenheit?",
    "What are some good books to read this summer?",
)
